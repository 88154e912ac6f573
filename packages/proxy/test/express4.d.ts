// Express 4 is installed under an alias to test the middleware against both majors; its API is
// the part of Express 5's types these tests use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
