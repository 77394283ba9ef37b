export { FakeKubeApi } from "./server.ts";
export type { FakeKubeApiOptions, ForbidRule, RecordedRequest } from "./server.ts";
export * as simulate from "./simulate.ts";
