import ArgumentParser
import DroverAPI
import DroverCoordinator
import DroverCore
import Foundation
import Logging
import ServiceLifecycle
import Yams

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "coordinator", abstract: "Run the coordinator: the API and the only owner of state.")

    @Option(help: "YAML configuration file (flags override it; environment overrides it too).")
    var config: String?
    @Option(help: "Address to listen on, HOST:PORT (default 0.0.0.0:7070; port 0 picks a free one).")
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
    @Option(help: "PEM certificate chain: serve HTTPS (with --tls-key).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?
    @Option(help: "Currency code of all prices, e.g. USD (default USD).")
    var currency: String?
    @Option(help: "Rate card: prices by node label, overriding agents' own (re-read on SIGHUP), e.g. cluster/rates.yaml.")
    var rates: String?
    @Option(help: "How often running attempts' cost is booked to the ledger, e.g. 60s (default 60s).")
    var costInterval: String?
    @Option(help: "Reserve a node for a team's first job in line once it has been passed over this long, e.g. 5m (default 5m; 'off' disables).")
    var reserveAfter: String?
    @Option(help: "Where tasks go when several waiting nodes could take them: pack (fill partly used nodes first, keeping whole nodes free; default) or spread.")
    var placement: String?

    func run() async throws {
        let logger = bootstrapLogging()
        let configuration = try resolve()
        let coordinator = try await buildCoordinator(configuration: configuration, logger: logger) { host, port in
            // Tests and scripts read this line to find a port chosen with :0.
            print("drover coordinator listening on \(configuration.tlsCertificatePath == nil ? "http" : "https")://\(host):\(port)")
            flushStandardOutput()
        }
        let group = ServiceGroup(configuration: .init(services: coordinator.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// flags > environment > file > defaults.
    func resolve() throws -> CoordinatorConfiguration {
        var configuration = CoordinatorConfiguration()
        let environment = ProcessInfo.processInfo.environment
        var file: [String: JSONValue] = [:]
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else { throw CLIError("cannot read the configuration file \(config)") }
            guard case .object(let fields) = try JSONValue(any: try Yams.load(yaml: text)) else { throw CLIError("\(config): expected a mapping") }
            let known: Set = ["listen", "data", "adminToken", "joinToken", "heartbeatInterval", "leaseTtl", "maxBodyBytes", "tlsCert", "tlsKey", "defaultQuota",
                              "currency", "rates", "costInterval", "reserveAfter", "placement"]
            if let unknown = fields.keys.first(where: { !known.contains($0) }) {
                throw CLIError("\(config): unknown field '\(unknown)'; known fields are \(known.sorted().joined(separator: ", "))")
            }
            file = fields
        }
        func fileString(_ key: String) throws -> String? {
            switch file[key] {
            case nil: return nil
            case .string(let s)?: return s
            case .number(let n)?: return String(Int64(n))
            case let other?: throw CLIError("\(config ?? ""): \(key) must be a string, got \(other.typeName)")
            }
        }
        if let listen = try listen ?? fileString("listen") {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw CLIError("--listen must be HOST:PORT, e.g. 0.0.0.0:7070")
            }
            configuration.host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            configuration.port = port
        }
        configuration.dataDirectory = try data ?? fileString("data") ?? configuration.dataDirectory
        configuration.adminToken = try adminToken ?? environment["DROVER_ADMIN_TOKEN"] ?? fileString("adminToken") ?? ""
        configuration.joinToken = try joinToken ?? environment["DROVER_JOIN_TOKEN"] ?? fileString("joinToken") ?? ""
        if let text = try heartbeatInterval ?? fileString("heartbeatInterval") {
            guard let ms = Quantity.parseDuration(text), ms > 0 else { throw CLIError("--heartbeat-interval: '\(text)' is not a duration such as 5s") }
            configuration.heartbeatInterval = .milliseconds(ms)
        }
        if let text = try leaseTtl ?? fileString("leaseTtl") {
            guard let ms = Quantity.parseDuration(text), ms > 0 else { throw CLIError("--lease-ttl: '\(text)' is not a duration such as 20s") }
            configuration.leaseTTL = .milliseconds(ms)
        }
        if case .number(let n)? = file["maxBodyBytes"] { configuration.maxBodyBytes = Int(n) }
        if let text = maxPollWait {
            guard let ms = Quantity.parseDuration(text) else { throw CLIError("--max-poll-wait: '\(text)' is not a duration such as 30s") }
            configuration.maxPollWait = .milliseconds(ms)
        }
        if let quota = file["defaultQuota"] {
            do { configuration.defaultQuota = try JobSpecParser.parseQuota(quota) } catch { throw CLIError("\(config ?? ""): defaultQuota.\(error)") }
        }
        configuration.tlsCertificatePath = try tlsCert ?? fileString("tlsCert")
        configuration.tlsKeyPath = try tlsKey ?? fileString("tlsKey")
        configuration.currency = try currency ?? fileString("currency") ?? configuration.currency
        if let path = try rates ?? fileString("rates") {
            // Relative to the configuration file when it comes from one.
            if rates == nil, let config, !path.hasPrefix("/") {
                configuration.ratesFile = URL(fileURLWithPath: config).deletingLastPathComponent().appendingPathComponent(path).path
            } else {
                configuration.ratesFile = path
            }
        }
        if let text = try reserveAfter ?? fileString("reserveAfter") {
            if text == "off" {
                configuration.reserveAfter = nil
            } else {
                guard let ms = Quantity.parseDuration(text), ms > 0 else { throw CLIError("--reserve-after: '\(text)' is not a duration such as 5m, or off") }
                configuration.reserveAfter = .milliseconds(ms)
            }
        }
        if let text = try placement ?? fileString("placement") {
            guard let strategy = PlacementStrategy(rawValue: text) else { throw CLIError("--placement: '\(text)' is not pack or spread") }
            configuration.placement = strategy
        }
        if let text = try costInterval ?? fileString("costInterval") {
            guard let ms = Quantity.parseDuration(text), ms >= 100 else { throw CLIError("--cost-interval: '\(text)' is not a duration of at least 100ms, such as 60s") }
            configuration.costBookingInterval = .milliseconds(ms)
        }
        guard configuration.leaseTTL > configuration.heartbeatInterval * 2 else {
            throw CLIError("the lease TTL must be more than twice the heartbeat interval, so one lost heartbeat does not kill a node")
        }
        return configuration
    }
}
