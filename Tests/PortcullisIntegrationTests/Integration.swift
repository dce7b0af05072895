import Testing

/// Every integration suite nests in this one so they run one at a time: each starts real proxy processes and
/// TLS clients, and the CI machine has two cores.
@Suite(.serialized) struct Integration {}
