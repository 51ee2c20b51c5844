import DroverAPI
import DroverCore
import DroverStore
import DroverStoreSQLite
import DroverTrust
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The system clock, in milliseconds since the Unix epoch.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Timestamp { Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded())) }
}

/// A coordinator ready to run: the HTTP application with its background services.
public struct Coordinator: Sendable {
    public let application: any ApplicationProtocol
    public let cluster: Cluster
    public let store: any Store

    /// Run these in one ServiceGroup, in this order. The last one releases held polls
    /// first on shutdown, so the HTTP server does not wait out their long-poll timeouts.
    public var services: [any Service] { [application, PollReleaser(cluster: cluster)] }
}

/// On graceful shutdown, answers every held agent poll at once.
struct PollReleaser: Service {
    let cluster: Cluster

    func run() async throws {
        try? await gracefulShutdown()
        cluster.beginShutdown()
    }
}

/// The composition root, used by `drover coordinator`, `drover demo` and tests.
///
/// - Parameters:
///   - clock: the state's timestamps; by default the system clock read once and moved on by
///     `monotonic` (``SteadyWallClock``), so a step of the system clock changes no duration.
///   - metrics: where `/metrics` series live; the `drover` executable passes the one whose
///     registry it bootstrapped swift-metrics with (Hummingbird's HTTP metrics).
///   - onListening: called with the bound address once the server accepts connections.
///   - onMetricsListening: the same for the `--metrics-listen` listener, if there is one.
public func buildCoordinator(
    configuration: CoordinatorConfiguration, store providedStore: (any Store)? = nil, clock providedClock: (any WallClock)? = nil,
    monotonic: any MonotonicClock = ContinuousClock(), metrics: CoordinatorMetrics = CoordinatorMetrics(), logger: Logger,
    onListening: @escaping @Sendable (Listening) async -> Void = { _ in },
    onMetricsListening: @escaping @Sendable (Listening) async -> Void = { _ in }
) async throws -> Coordinator {
    let clock = providedClock ?? SteadyWallClock(wall: SystemWallClock(), monotonic: monotonic)
    // Configurations built in code (the demo, tests) get the same checks as resolved ones.
    try configuration.validate()
    let store: any Store
    if let providedStore {
        store = providedStore
    } else {
        try DataDirectory.prepare(configuration.dataDirectory)
        let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("drover.sqlite").path
        store = try SQLiteStore(path: path, synchronous: configuration.fullSync ? .full : .normal)
        logger.info("store opened", metadata: ["store.path": "\(path)"])
    }
    let secrets = try loadSecretSealer(configuration: configuration, ownStore: providedStore == nil, logger: logger)
    var loaded = try await store.load()
    let sealed = try await LegacySecrets.seal(&loaded.jobs, with: secrets, in: store)
    if sealed > 0 { logger.notice("sealed secret env values stored in clear by an older coordinator", metadata: ["jobs": "\(sealed)"]) }
    let unreadable = LegacySecrets.unreadable(in: loaded.jobs, with: secrets)
    if !unreadable.isEmpty {
        logger.error("live jobs hold secrets this key cannot decrypt; their attempts fail until the key file that sealed them is restored", metadata: [
            "jobs": "\(unreadable.map(\.description).joined(separator: ","))",
        ])
    }
    let card = try configuration.ratesFile.map(Cluster.loadRateCard(path:)) ?? RateCard()
    var state = loaded.clusterState(now: clock.now(), policy: configuration.policy(rateCard: card))
    if let path = configuration.ratesFile {
        // Rates that changed in the file while the coordinator was down apply from now on.
        try await store.apply(state.applyRateCard(card, by: "coordinator (rates file \(path))", now: clock.now()).mutations)
        logger.info("rate card loaded", metadata: ["rates.file": "\(path)", "rates.entries": "\(card.entries.count)"])
    }
    try await generateMissingTokens(configuration: configuration, state: &state, store: store, clock: clock, logger: logger)
    logger.info("state loaded", metadata: [
        "jobs": "\(loaded.jobs.count)", "nodes": "\(loaded.nodes.count)", "attempts.running": "\(loaded.activeAttempts.count)",
    ])
    let health = StoreHealth()
    let journal = Journal(store: store, health: health, monotonic: monotonic, metrics: metrics, logger: logger)
    let cluster = Cluster(state: state, store: store, journal: journal, health: health, clock: clock, monotonic: monotonic,
                          configuration: configuration, secrets: secrets, metrics: metrics, webhooks: loaded.webhooks, logger: logger)
    let router = Router(context: DroverRequestContext.self)
    router.add(middleware: ProblemMiddleware<DroverRequestContext>(logger: logger))
    router.add(middleware: MetricsMiddleware<DroverRequestContext>())
    let transport = Transport(configuration)
    let generated = try prepareGeneratedTLS(for: configuration, logger: logger)
    let server = try serverBuilder(for: transport, host: configuration.host, port: configuration.port, generated: generated, logger: logger)
    // The generated CA is the API's to hand out only when the API serves with it.
    let apiCA = transport == .generatedCertificate ? generated : nil
    Routes(cluster: cluster, configuration: configuration, caCertificatePEM: apiCA?.caPEM).register(on: router)
    let metricsListener = try configuration.metricsListen.map { address in
        try MetricsListener.application(cluster: cluster, address: address, generated: generated, logger: logger, onListening: onMetricsListening)
    }
    let application = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "drover"),
        services: [journal, LeaseReaper(cluster: cluster, logger: logger), RatesReloader(cluster: cluster, logger: logger),
                   StoreRecovery(cluster: cluster, logger: logger), WebhookDispatcher(cluster: cluster, logger: logger, tryTimeout: configuration.webhookTimeout)]
                   + (metricsListener.map { [$0 as any Service] } ?? []),
        onServerRunning: { channel in
            let address = channel.localAddress
            await onListening(Listening(host: address?.ipAddress ?? configuration.host, port: address?.port ?? configuration.port,
                                        scheme: transport.scheme, caPin: apiCA?.pin))
        },
        logger: logger)
    return Coordinator(application: application, cluster: cluster, store: store)
}

/// Where the coordinator accepts connections, and how clients trust it.
public struct Listening: Sendable {
    /// The bound address (0.0.0.0 when listening on every interface).
    public let host: String
    public let port: Int
    /// http or https.
    public let scheme: String
    /// The pin of the generated CA that signed the server certificate, if one did.
    public let caPin: CAPin?

    public var url: String { "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

/// The server certificate from the coordinator's own CA, if a listener (the API's or the
/// metrics one) serves with it: one certificate naming both listeners' addresses.
private func prepareGeneratedTLS(for configuration: CoordinatorConfiguration, logger: Logger) throws -> GeneratedTLS.Prepared? {
    let hosts = ([configuration.host] + (configuration.metricsListen.map { [$0.host] } ?? []))
        .filter { Transport(configuration, host: $0) == .generatedCertificate }
    guard !hosts.isEmpty else { return nil }
    var names = ServerNames()
    for host in hosts {
        let required = ServerNames.required(listenHost: host, extra: configuration.tlsSubjectAlternativeNames,
                                            interfaces: IPAddress.localInterfaceAddresses(), hostname: ProcessInfo.processInfo.hostName)
        names.dnsNames.formUnion(required.dnsNames)
        names.addresses.formUnion(required.addresses)
    }
    return try GeneratedTLS(dataDirectory: configuration.dataDirectory).prepare(names: names, logger: logger)
}

/// The HTTP/1 server `transport` asks for, for a listener on `host`:`port`.
func serverBuilder(for transport: Transport, host: String, port: Int, generated: GeneratedTLS.Prepared?, logger: Logger) throws -> HTTPServerBuilder {
    switch transport {
    case .loopbackHTTP:
        return .http1()
    case .insecureHTTP:
        logger.warning("""
            INSECURE: serving plain HTTP on \(host):\(port) (--insecure-http): every bearer token and \
            job crosses the network in clear; listen on 127.0.0.1, or drop --insecure-http to serve HTTPS with a generated CA
            """)
        return .http1()
    case .givenCertificate(let certificate, let key):
        return try tlsServer(certificate: certificate, key: key)
    case .generatedCertificate:
        // prepareGeneratedTLS made it for every listener that serves so.
        return try tlsServer(certificate: generated!.certificatePath, key: generated!.keyPath)
    }
}

private func tlsServer(certificate: String, key: String) throws -> HTTPServerBuilder {
    do {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        return try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey)))
    } catch {
        throw ConfigurationError("cannot load the TLS certificate \(certificate) or key \(key): \(error)")
    }
}

/// The sealer of secret env values: the key in `secretKeyFile`, else in `DATA/secret.key`
/// (made on first start) when the coordinator keeps its own store; a store given in code (tests,
/// memory) without a key file gets a key that lives as long as the process.
private func loadSecretSealer(configuration: CoordinatorConfiguration, ownStore: Bool, logger: Logger) throws -> SecretSealer {
    if let path = configuration.secretKeyFile {
        return SecretSealer(key: try SecretKeyFile.load(path: path, create: false))
    }
    guard ownStore else { return .ephemeral() }
    let path = SecretKeyFile.defaultPath(dataDirectory: configuration.dataDirectory)
    let key = try SecretKeyFile.load(path: path, create: true)
    logger.info("secret key loaded", metadata: ["secret.key_file": "\(path)"])
    return SecretSealer(key: key)
}

/// Closed by default: with no admin or join token given and none stored, the coordinator
/// makes them on first start, keeps only their hashes, and writes the secrets once to files
/// only its user can read.
private func generateMissingTokens(configuration: CoordinatorConfiguration, state: inout ClusterState, store: any Store,
                                   clock: any WallClock, logger: Logger) async throws {
    var mutations: [Mutation] = []
    let live = state.tokens.values.filter { $0.revokedAt == nil }
    for (role, given, file) in [(TokenRole.admin, configuration.adminToken, "admin.token"), (.join, configuration.joinToken, "join.token")]
        where given.isEmpty && !live.contains(where: { $0.role == role }) {
        let secret = TokenHash.generate(prefix: role == .admin ? "dra_" : "drj_")
        let record = TokenRecord(id: "tok-initial-\(role.rawValue)", hash: TokenHash.hex(secret), role: role, team: nil, createdAt: clock.now(),
                                 createdBy: "coordinator")
        let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(file).path
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: path)
        guard FileManager.default.createFile(atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write the generated \(role.rawValue) token to \(path)")
        }
        mutations += state.addToken(record).mutations
        logger.notice("generated the \(role.rawValue) token; only its hash is stored", metadata: ["token.file": "\(path)"])
    }
    try await store.apply(mutations)
}

/// On SIGHUP, re-reads the rates file; changed rates apply from that moment on.
struct RatesReloader: Service {
    let cluster: Cluster
    let logger: Logger

    func run() async throws {
        guard cluster.configuration.ratesFile != nil else {
            try? await gracefulShutdown()
            return
        }
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try await cluster.reloadRates()
            } catch {
                // A broken file leaves the rates in force unchanged.
                logger.error("rates file not reloaded; the rates in force are unchanged", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Declares silent nodes down and their attempts lost, and books running costs, once a second.
struct LeaseReaper: Service {
    let cluster: Cluster
    let logger: Logger
    /// The system clock's step last logged, in whole seconds.
    private let loggedStep = LoggedStep()

    final class LoggedStep: Sendable {
        let seconds = Atomic<Int64>(0)
    }

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            // Shutdown cancels the wait rather than waiting out a tick.
            try? await cancelWhenGracefulShutdown { try await cluster.monotonic.sleep(for: cluster.reaperPeriod) }
            await tick()
        }
    }

    /// One round: forgive a stall of the coordinator's own, expire silent nodes, book costs.
    func tick() async {
        // A tick far later than asked means the coordinator itself stalled: nodes' silence in
        // that time is not theirs.
        cluster.forgiveStall()
        noteClockStep()
        do {
            try await cluster.expireSilentNodes()
            try await cluster.bookRunningCosts()
        } catch is StoreUnavailable {
            // Said once by the journal; the recovery reloads the state.
        } catch {
            logger.error("lease reaper failed", metadata: ["error": "\(error)"])
        }
    }
}

extension LeaseReaper {
    /// Says so when the system clock steps away from the coordinator's steady timestamps (each
    /// new whole second of difference once): nothing is re-timed, but people reading
    /// timestamps should know.
    func noteClockStep() {
        guard let steady = cluster.clock as? SteadyWallClock else { return }
        let seconds = steady.drift() / 1000
        guard loggedStep.seconds.exchange(seconds, ordering: .relaxed) != seconds, seconds != 0 else { return }
        logger.warning("the system clock stepped away from the coordinator's timestamps; leases, liveness and cost keep monotonic time until restart",
                       metadata: ["clock.step_seconds": "\(seconds)"])
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}
