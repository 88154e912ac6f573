/** Test helpers of `@edgekit/core`: a manual clock that tests advance instead of sleeping. */
export { type ManualClock, createManualClock } from './manual-clock.js';
