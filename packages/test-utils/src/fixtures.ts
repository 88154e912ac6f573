import { fileURLToPath } from 'node:url';

/** Path of `echo.proto`, the `edgekit.test.Echo` gRPC service (unary, server-streaming and bidirectional calls) the gRPC tests load. */
export function echoProtoPath(): string {
  return fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));
}
