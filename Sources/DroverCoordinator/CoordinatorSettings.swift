import DroverAPI
import DroverCore
import Foundation

/// One coordinator setting under its three names: a flag, an environment variable and a
/// configuration-file field. ``CoordinatorConfiguration/resolve(flags:environment:file:fileName:)``
/// resolves every setting in ``CoordinatorConfiguration/settings`` the same way: the flag, else
/// the environment, else the file, else the default.
public struct CoordinatorSetting: Sendable {
    /// The configuration-file field, e.g. `leaseTtl`.
    public let key: String
    /// The flag without its dashes, e.g. `lease-ttl`.
    public let flag: String
    /// The environment variable, e.g. `DROVER_LEASE_TTL`.
    public let environment: String
    /// What it sets, with its unit or an example.
    public let summary: String
    /// The default, as a user would write it.
    public let defaultValue: String
    fileprivate let apply: @Sendable (SettingInput, inout CoordinatorConfiguration) throws(ConfigurationError) -> Void

    fileprivate init(_ key: String, flag: String, default defaultValue: String, _ summary: String,
                     apply: @escaping @Sendable (SettingInput, inout CoordinatorConfiguration) throws(ConfigurationError) -> Void) {
        self.key = key
        self.flag = flag
        environment = "DROVER_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
        self.summary = summary
        self.defaultValue = defaultValue
        self.apply = apply
    }
}

/// A value as one source gave it, with the name to blame in an error.
private struct SettingInput {
    enum Value {
        case text(String)
        case file(JSONValue)
    }

    var value: Value
    /// `--lease-ttl`, `DROVER_LEASE_TTL` or `coordinator.yaml: leaseTtl`.
    var origin: String
    /// The configuration file's directory, for paths given in it.
    var fileDirectory: String?

    func fail(_ what: String) -> ConfigurationError { ConfigurationError("\(origin): \(what)") }

    /// The value as text; numbers in the file are accepted where text is.
    func text() throws(ConfigurationError) -> String {
        switch value {
        case .text(let text): return text
        case .file(.string(let text)): return text
        case .file(.number(let number)) where number == number.rounded(): return String(Int64(number))
        case .file(let other): throw fail("expected a string, got \(other.typeName)")
        }
    }

    func duration(example: String, minimum: Int64 = 1) throws(ConfigurationError) -> Duration {
        let text = try text()
        guard let milliseconds = Quantity.parseDuration(text), milliseconds >= minimum else {
            throw fail("'\(text)' is not a duration such as \(example)" + (minimum > 1 ? " (at least \(Quantity.formatDuration(minimum)))" : ""))
        }
        return .milliseconds(milliseconds)
    }

    func integer(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = try text()
        guard let value = Int(text), range.contains(value) else { throw fail("'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    /// A path; one written in the configuration file is relative to the file.
    func path() throws(ConfigurationError) -> String {
        let path = try text()
        guard let fileDirectory, !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: fileDirectory).appendingPathComponent(path).path
    }

    /// A mapping: from the file as it is, from a flag or the environment as JSON text.
    func mapping() throws(ConfigurationError) -> JSONValue {
        switch value {
        case .file(let value): return value
        case .text(let text):
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw fail("'\(text)' is not a JSON mapping such as {\"cpu\": 64, \"memory\": \"256GiB\"}")
            }
            return value
        }
    }
}

extension CoordinatorConfiguration {
    /// Every setting of `drover coordinator`, in the order the README's table lists them.
    public static let settings: [CoordinatorSetting] = [
        CoordinatorSetting("listen", flag: "listen", default: "0.0.0.0:7070", "Address to listen on, HOST:PORT; port 0 picks a free one") { input, c throws(ConfigurationError) in
            let text = try input.text()
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
                throw input.fail("'\(text)' is not HOST:PORT, e.g. 0.0.0.0:7070")
            }
            c.host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            c.port = port
        },
        CoordinatorSetting("data", flag: "data", default: "./drover-data", "Directory of the SQLite database and generated tokens") { input, c throws(ConfigurationError) in
            c.dataDirectory = try input.path()
        },
        CoordinatorSetting("adminToken", flag: "admin-token", default: "generated", "Admin bearer token; generated into DATA/admin.token on first start when none is given") { input, c throws(ConfigurationError) in
            c.adminToken = try input.text()
        },
        CoordinatorSetting("joinToken", flag: "join-token", default: "generated", "Token agents register with; generated into DATA/join.token when none is given") { input, c throws(ConfigurationError) in
            c.joinToken = try input.text()
        },
        CoordinatorSetting("heartbeatInterval", flag: "heartbeat-interval", default: "5s", "How often agents heartbeat, e.g. 5s") { input, c throws(ConfigurationError) in
            c.heartbeatInterval = try input.duration(example: "5s")
        },
        CoordinatorSetting("leaseTtl", flag: "lease-ttl", default: "20s", "Silence after which a node is down and its attempts lost, e.g. 20s") { input, c throws(ConfigurationError) in
            c.leaseTTL = try input.duration(example: "20s")
        },
        CoordinatorSetting("maxPollWait", flag: "max-poll-wait", default: "30s", "Longest an agent's poll is held when there is no work, e.g. 30s") { input, c throws(ConfigurationError) in
            c.maxPollWait = try input.duration(example: "30s", minimum: 0)
        },
        CoordinatorSetting("maxBodyBytes", flag: "max-body-bytes", default: "1048576", "Largest accepted request body in bytes, log chunks aside") { input, c throws(ConfigurationError) in
            c.maxBodyBytes = try input.integer(in: 1024...(1 << 30))
        },
        CoordinatorSetting("tlsCert", flag: "tls-cert", default: "none", "PEM certificate chain: serve HTTPS (with tlsKey)") { input, c throws(ConfigurationError) in
            c.tlsCertificatePath = try input.path()
        },
        CoordinatorSetting("tlsKey", flag: "tls-key", default: "none", "PEM private key of tlsCert") { input, c throws(ConfigurationError) in
            c.tlsKeyPath = try input.path()
        },
        CoordinatorSetting("defaultQuota", flag: "default-quota", default: "unlimited", "Quota of teams without their own; a mapping ({cpu: 64, memory: 256GiB, gpu: 8, running: 1000}; JSON text as a flag or variable)") { input, c throws(ConfigurationError) in
            do { c.defaultQuota = try JobSpecParser.parseQuota(try input.mapping()) } catch let error as ConfigurationError { throw error } catch {
                throw input.fail("\(error)")
            }
        },
        CoordinatorSetting("currency", flag: "currency", default: "USD", "Currency code (ISO 4217) of every price and amount") { input, c throws(ConfigurationError) in
            let text = try input.text()
            guard CoordinatorConfiguration.isCurrencyCode(text) else {
                throw input.fail("'\(text)' is not a three-letter ISO 4217 code such as USD or EUR")
            }
            c.currency = text
        },
        CoordinatorSetting("rates", flag: "rates", default: "none", "Rate card (YAML) pricing nodes by label, overriding agents' own; re-read on SIGHUP") { input, c throws(ConfigurationError) in
            c.ratesFile = try input.path()
        },
        CoordinatorSetting("costInterval", flag: "cost-interval", default: "60s", "How often running attempts' cost is booked to the ledger (budgets see it then)") { input, c throws(ConfigurationError) in
            c.costBookingInterval = try input.duration(example: "60s", minimum: 100)
        },
        CoordinatorSetting("reserveAfter", flag: "reserve-after", default: "5m", "Reserve a node for a team's first job in line passed over this long; off disables") { input, c throws(ConfigurationError) in
            c.reserveAfter = try input.text() == "off" ? nil : try input.duration(example: "5m, or off")
        },
        CoordinatorSetting("placement", flag: "placement", default: "pack", "pack (fill partly used nodes first) or spread (least loaded waiting node first)") { input, c throws(ConfigurationError) in
            let text = try input.text()
            guard let strategy = PlacementStrategy(rawValue: text) else { throw input.fail("'\(text)' is not pack or spread") }
            c.placement = strategy
        },
        CoordinatorSetting("storeOutageLimit", flag: "store-outage-limit", default: "5m", "How long to answer 503 while the store refuses writes before exiting with an error") { input, c throws(ConfigurationError) in
            c.storeOutageLimit = try input.duration(example: "5m")
        },
    ]

    /// Resolves every setting: a flag, else its environment variable, else the configuration
    /// file's field, else the default; then checks the whole once.
    ///
    /// - Parameters:
    ///   - flags: values of the flags given, by flag name without dashes (`lease-ttl`).
    ///   - file: the configuration file's top-level fields, if one was given.
    ///   - fileName: its path, for errors and for paths written relative to it.
    public static func resolve(flags: [String: String], environment: [String: String], file: [String: JSONValue]? = nil,
                               fileName: String? = nil) throws(ConfigurationError) -> CoordinatorConfiguration {
        let byKey = Dictionary(uniqueKeysWithValues: settings.map { ($0.key, $0) })
        if let file, let unknown = file.keys.sorted().first(where: { byKey[$0] == nil }) {
            let near = settings.first { $0.key.lowercased() == unknown.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "") }
            let hint = near.map { " (did you mean '\($0.key)'?)" } ?? ""
            throw ConfigurationError("\(fileName ?? "configuration file"): unknown field '\(unknown)'\(hint); known fields are \(settings.map(\.key).sorted().joined(separator: ", "))")
        }
        if let unknown = flags.keys.sorted().first(where: { flag in !settings.contains { $0.flag == flag } }) {
            throw ConfigurationError("--\(unknown) is not a coordinator setting")
        }
        let fileDirectory = fileName.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        var configuration = CoordinatorConfiguration()
        for setting in settings {
            let input: SettingInput? = if let text = flags[setting.flag] {
                SettingInput(value: .text(text), origin: "--\(setting.flag)")
            } else if let text = environment[setting.environment] {
                SettingInput(value: .text(text), origin: setting.environment)
            } else if let value = file?[setting.key], value != .null {
                SettingInput(value: .file(value), origin: "\(fileName ?? "configuration file"): \(setting.key)", fileDirectory: fileDirectory)
            } else {
                nil
            }
            if let input { try setting.apply(input, &configuration) }
        }
        try configuration.validate()
        return configuration
    }

    /// Checks what no single setting can: how settings fit together.
    public func validate() throws(ConfigurationError) {
        guard leaseTTL > heartbeatInterval * 2 else {
            throw ConfigurationError("the lease TTL (\(Quantity.formatDuration(leaseTTL.milliseconds))) must be more than twice the heartbeat interval (\(Quantity.formatDuration(heartbeatInterval.milliseconds))), so one lost heartbeat does not kill a node")
        }
        guard (tlsCertificatePath == nil) == (tlsKeyPath == nil) else { throw ConfigurationError("TLS needs both tlsCert and tlsKey (--tls-cert and --tls-key)") }
        guard adminToken.isEmpty || adminToken != joinToken else { throw ConfigurationError("the admin and join tokens must differ") }
        guard Self.isCurrencyCode(currency) else {
            throw ConfigurationError("currency must be a three-letter ISO 4217 code such as USD or EUR, got '\(currency)'")
        }
    }

    static func isCurrencyCode(_ text: String) -> Bool { text.count == 3 && text.allSatisfy { $0.isASCII && $0.isUppercase } }

    /// The settings as a Markdown table (README's "Coordinator settings").
    public static var settingsTable: String {
        var lines = ["| file field | flag | environment | default | what it sets |", "|---|---|---|---|---|"]
        for setting in settings {
            lines.append("| `\(setting.key)` | `--\(setting.flag)` | `\(setting.environment)` | \(setting.defaultValue) | \(setting.summary) |")
        }
        return lines.joined(separator: "\n")
    }
}
