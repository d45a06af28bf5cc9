export { makeContainer, makeDiscoveryContext, makeImage, makeNode, makePluginContext, makeRequest, silentLogger } from "./builders.js";
export { testFilter, testPlacement, testStrategy } from "./placement.js";
export type { PlacementUnderTest, PluginUnderTest } from "./placement.js";
export { startTestManager } from "./test-manager.js";
export type { RunOptions, TestManager, TestManagerOptions, TestResponse } from "./test-manager.js";
export { startFleet } from "./fleet/fleet.js";
export type { Fleet, FleetOptions } from "./fleet/fleet.js";
export { fakeDiscovery, fakeFilter, fakeStrategy } from "./fakes.js";
export type { FakeDiscovery } from "./fakes.js";
