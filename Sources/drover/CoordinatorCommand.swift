import ArgumentParser
import DroverAPI
import DroverCoordinator
import DroverCore
import Foundation
import Logging
import Metrics
import ServiceLifecycle

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "coordinator", abstract: "Run the coordinator: the API and the only owner of state.",
                                                    discussion: """
                                                        EXAMPLES:
                                                          drover coordinator --data /var/lib/drover --admin-token "$ADMIN" --join-token "$JOIN"
                                                          drover coordinator --config cluster/coordinator.yaml
                                                          drover coordinator --listen 0.0.0.0:7070 --tls-san drover.example.com
                                                        """)

    @Option(help: "YAML configuration file. Every setting is a flag, a DROVER_* variable and a file field; flags win, then the environment, then the file (README: Coordinator settings).")
    var config: String?
    @Option(help: "Address to listen on, HOST:PORT (default 127.0.0.1:7070; port 0 picks a free one). Beyond loopback it serves HTTPS, with a CA generated in the data directory unless --tls-cert is given.")
    var listen: String?
    @Option(help: "Directory for the SQLite database (default ./drover-data).")
    var data: String?
    @Option(help: "Admin bearer token (env DROVER_ADMIN_TOKEN).")
    var adminToken: String?
    @Option(help: "Token agents register with (env DROVER_JOIN_TOKEN).")
    var joinToken: String?
    @Option(help: "Agent heartbeat interval, e.g. 5s.")
    var heartbeatInterval: String?
    @Option(help: "Silence after which a node is down and its attempts lost, e.g. 20s.")
    var leaseTtl: String?
    @Option(help: "Longest an agent's poll is held when there is no work, e.g. 30s.")
    var maxPollWait: String?
    @Option(help: "Largest accepted request body in bytes, log chunks aside (default 1048576).")
    var maxBodyBytes: String?
    @Option(help: "Quota of teams without their own, as JSON, e.g. '{\"cpu\": 64, \"memory\": \"256GiB\"}' (default unlimited).")
    var defaultQuota: String?
    @Option(help: "PEM certificate chain: serve HTTPS (with --tls-key).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?
    @Option(name: .customLong("tls-san"), help: "Another host name or IP address for the generated server certificate (repeatable).")
    var tlsSans: [String] = []
    @Flag(help: "Serve plain HTTP beyond loopback. Every token then crosses the network in clear.")
    var insecureHttp = false
    @Option(help: "Currency code of all prices, e.g. USD (default USD).")
    var currency: String?
    @Option(help: "Rate card: prices by node label, overriding agents' own (re-read on SIGHUP), e.g. cluster/rates.yaml.")
    var rates: String?
    @Option(help: "How often running attempts' cost is booked to the ledger, e.g. 60s (default 60s).")
    var costInterval: String?
    @Option(help: "Reserve a node for a team's first job in line once it has been passed over this long, e.g. 5m (default 5m; 'off' disables).")
    var reserveAfter: String?
    @Option(help: "Where tasks go when several waiting nodes could take them: pack (fill partly used nodes first, keeping whole nodes free; default), spread, or cheapest (lowest rate for the task's resources, then pack).")
    var placement: String?
    @Option(help: "How long to keep answering 503 while the store refuses writes before exiting with an error, e.g. 5m (default 5m).")
    var storeOutageLimit: String?
    @Option(help: "Key file sealing secret env values in the store: 32 bytes, mode 0600, the same on every coordinator (default DATA/secret.key, made on first start).")
    var secretKeyFile: String?
    @Option(help: "Also serve GET /metrics without a token on HOST:PORT, e.g. 127.0.0.1:9464 (TLS beyond loopback, as --listen). Without it /metrics needs an admin token.")
    var metricsListen: String?
    @Option(help: "Longest one webhook try may take, answer included, before it is cut off and retried later, e.g. 10s (default 10s).")
    var webhookTimeout: String?

    func run() async throws {
        let logger = bootstrapLogging()
        let configuration = try resolve()
        // The process's one swift-metrics bootstrap: Hummingbird's HTTP metrics join the coordinator's registry.
        let metrics = CoordinatorMetrics()
        MetricsSystem.bootstrap(HTTPMetricNames.factory(registry: metrics.registry))
        let coordinator = try await buildCoordinator(configuration: configuration, metrics: metrics, logger: logger, onListening: { listening in
            // Tests and scripts read these lines to find a port chosen with :0 and the CA pin.
            print("drover coordinator listening on \(listening.url)")
            for line in JoinInstructions.lines(for: listening, configuration: configuration, hostname: ProcessInfo.processInfo.hostName) {
                print(line)
            }
            flushStandardOutput()
        }, onMetricsListening: { listening in
            print("drover coordinator serves metrics at \(listening.url)/metrics")
            flushStandardOutput()
        })
        let group = ServiceGroup(configuration: .init(services: coordinator.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// flags > environment > file > defaults, by the one settings resolver.
    func resolve() throws -> CoordinatorConfiguration {
        let given: [(String, String?)] = [
            ("listen", listen), ("data", data), ("admin-token", adminToken), ("join-token", joinToken),
            ("heartbeat-interval", heartbeatInterval), ("lease-ttl", leaseTtl), ("max-poll-wait", maxPollWait),
            ("max-body-bytes", maxBodyBytes), ("tls-cert", tlsCert), ("tls-key", tlsKey),
            ("tls-san", tlsSans.isEmpty ? nil : tlsSans.joined(separator: "\n")), ("insecure-http", insecureHttp ? "true" : nil), ("default-quota", defaultQuota),
            ("currency", currency), ("rates", rates), ("cost-interval", costInterval), ("reserve-after", reserveAfter),
            ("placement", placement), ("store-outage-limit", storeOutageLimit), ("secret-key-file", secretKeyFile),
            ("metrics-listen", metricsListen),
            ("webhook-timeout", webhookTimeout),
        ]
        return try resolveSettings(CoordinatorConfiguration.self, given: given, file: config)
    }
}
