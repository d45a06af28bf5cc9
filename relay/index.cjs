// The compiled relay. @swarm/core checks its `abi` before it uses it.
module.exports = require("./build/Release/splice_relay.node");
