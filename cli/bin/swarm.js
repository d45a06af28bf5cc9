#!/usr/bin/env node
// The swarm command of the installed package: core's CLI, with the built-in plugins and the
// cluster view installed next to it as dependencies, where core's loader finds them.
import "@swarm/core/cli";
