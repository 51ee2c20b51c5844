import DroverAPI
import DroverCore
import Foundation

/// One coordinator setting under its three names (flag, `DROVER_*` variable, file field).
public typealias CoordinatorSetting = Setting<CoordinatorConfiguration>

extension CoordinatorConfiguration: ResolvableConfiguration {
    /// Every setting of `drover coordinator`, in the order the README's table lists them.
    public static let settings = Settings<CoordinatorConfiguration>("coordinator", [
        CoordinatorSetting("listen", flag: "listen", default: "127.0.0.1:7070", "Address to listen on, HOST:PORT; port 0 picks a free one; beyond loopback it serves HTTPS") { input, c throws(ConfigurationError) in
            let address = try CoordinatorConfiguration.listenAddress(input, example: "0.0.0.0:7070")
            (c.host, c.port) = (address.host, address.port)
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
        CoordinatorSetting("tlsSans", flag: "tls-san", default: "none", "More names or addresses for the generated server certificate (the flag repeats; a list in the file)") { input, c throws(ConfigurationError) in
            let names = try input.list()
            if let name = names.first(where: { IPAddress($0) == nil && !ServerNames.isDNSName($0) }) {
                throw input.fail("'\(name)' is not a host name or IP address, e.g. drover.internal or 10.0.0.5")
            }
            c.tlsSubjectAlternativeNames = names
        },
        CoordinatorSetting("insecureHttp", flag: "insecure-http", default: "false", "Serve plain HTTP beyond loopback: tokens cross the network in clear") { input, c throws(ConfigurationError) in
            c.insecureHTTP = try input.bool()
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
        CoordinatorSetting("placement", flag: "placement", default: "pack", "pack (fill partly used nodes first), spread (least loaded waiting node first) or cheapest (lowest rate for the task's resources, then pack)") { input, c throws(ConfigurationError) in
            let text = try input.text()
            guard let strategy = PlacementStrategy(rawValue: text) else { throw input.fail("'\(text)' is not pack, spread or cheapest") }
            c.placement = strategy
        },
        CoordinatorSetting("storeOutageLimit", flag: "store-outage-limit", default: "5m", "How long to answer 503 while the store refuses writes before exiting with an error") { input, c throws(ConfigurationError) in
            c.storeOutageLimit = try input.duration(example: "5m")
        },
        CoordinatorSetting("secretKeyFile", flag: "secret-key-file", default: "DATA/secret.key", "Key file (32 bytes, mode 0600) sealing secret env values in the store; DATA/secret.key is made on first start") { input, c throws(ConfigurationError) in
            c.secretKeyFile = try input.path()
        },
        CoordinatorSetting("metricsListen", flag: "metrics-listen", default: "none", "Also serve GET /metrics without a token on HOST:PORT (TLS as for listen); without it /metrics needs an admin token") { input, c throws(ConfigurationError) in
            c.metricsListen = try CoordinatorConfiguration.listenAddress(input, example: "127.0.0.1:9464")
        },
        CoordinatorSetting("webhookTimeout", flag: "webhook-timeout", default: "10s", "Longest one webhook try may take (answer included) before it is cut off and retried") { input, c throws(ConfigurationError) in
            c.webhookTimeout = try input.duration(example: "10s", minimum: 100)
        },
    ])

    /// HOST:PORT (brackets around an IPv6 host allowed), or an error naming the setting.
    static func listenAddress(_ input: SettingInput, example: String) throws(ConfigurationError) -> ListenAddress {
        let text = try input.text()
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw input.fail("'\(text)' is not HOST:PORT, e.g. \(example)")
        }
        return ListenAddress(host: String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
    }

    /// Checks what no single setting can: how settings fit together.
    public func validate() throws(ConfigurationError) {
        guard leaseTTL > heartbeatInterval * 2 else {
            throw ConfigurationError("the lease TTL (\(Quantity.formatDuration(leaseTTL.milliseconds))) must be more than twice the heartbeat interval (\(Quantity.formatDuration(heartbeatInterval.milliseconds))), so one lost heartbeat does not kill a node")
        }
        guard (tlsCertificatePath == nil) == (tlsKeyPath == nil) else { throw ConfigurationError("TLS needs both tlsCert and tlsKey (--tls-cert and --tls-key)") }
        guard !insecureHTTP || tlsCertificatePath == nil else {
            throw ConfigurationError("--insecure-http serves plain HTTP and --tls-cert serves HTTPS: give one of them")
        }
        if let metrics = metricsListen, metrics.port != 0, metrics.port == port, metrics.host == host {
            throw ConfigurationError("metricsListen (--metrics-listen \(metrics.host):\(metrics.port)) must differ from listen: give the metrics listener a port of its own")
        }
        guard adminToken.isEmpty || adminToken != joinToken else { throw ConfigurationError("the admin and join tokens must differ") }
        guard Self.isCurrencyCode(currency) else {
            throw ConfigurationError("currency must be a three-letter ISO 4217 code such as USD or EUR, got '\(currency)'")
        }
    }

    static func isCurrencyCode(_ text: String) -> Bool { text.count == 3 && text.allSatisfy { $0.isASCII && $0.isUppercase } }
}
