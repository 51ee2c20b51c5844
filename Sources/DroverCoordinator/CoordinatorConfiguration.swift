import DroverCore
import Foundation

/// Everything a coordinator needs to start. Flags, environment and config file are
/// resolved into this by the `drover` executable.
public struct CoordinatorConfiguration: Sendable {
    /// Address to listen on; port 0 picks a free one (printed at start).
    /// Loopback by default; any other address serves HTTPS (``Transport``).
    public var host: String = "127.0.0.1"
    public var port: Int = 7070
    /// Directory of the SQLite database (`drover.sqlite`).
    public var dataDirectory: String = "./drover-data"
    /// Bearer token of administrators. Required.
    public var adminToken: String = ""
    /// Token agents present to register. Required.
    public var joinToken: String = ""
    /// How often agents heartbeat.
    public var heartbeatInterval: Duration = .seconds(5)
    /// Silence after which a node is declared down and its attempts lost.
    public var leaseTTL: Duration = .seconds(20)
    /// Largest accepted request body, except log chunks.
    public var maxBodyBytes: Int = 1 << 20
    /// Largest accepted log chunk.
    public var maxLogChunkBytes: Int = 4 << 20
    /// Longest an agent's poll is held open when there is no work.
    public var maxPollWait: Duration = .seconds(30)
    /// Most leases handed out in one poll answer.
    public var maxLeasesPerPoll: Int = 256
    /// SQLite `synchronous=FULL` (power-loss safe) rather than `NORMAL` (crash safe).
    public var fullSync: Bool = true
    /// Quota of teams that have none of their own (unlimited unless configured).
    public var defaultQuota = Quota.unlimited
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// More DNS names or IP addresses for the generated server certificate (`--tls-san`).
    public var tlsSubjectAlternativeNames: [String] = []
    /// Serve plain HTTP beyond loopback (`--insecure-http`); logged loudly at start.
    public var insecureHTTP = false
    /// Currency code of every price and amount (ISO 4217 such as USD, EUR).
    public var currency: String = "USD"
    /// How often running attempts' cost is booked to the ledger (and budgets see it).
    public var costBookingInterval: Duration = .seconds(60)
    /// A rate card (YAML) of prices by node label; re-read on SIGHUP. Rates in it override agents' own.
    public var ratesFile: String?
    /// A team's first job in line passed over this long gets a node reserved until it fits
    /// (against starvation of large tasks by small ones); nil turns reservations off.
    public var reserveAfter: Duration? = .seconds(300)
    /// Where a task goes when several nodes waiting for work could take it.
    public var placement = PlacementStrategy.pack
    /// How long the coordinator waits for a store that refuses writes (answering 503 meanwhile)
    /// before it exits with an error, for a supervisor to restart it.
    public var storeOutageLimit: Duration = .seconds(300)
    /// Longest one webhook try may take before it is cut off.
    public var webhookTimeout: Duration = .seconds(10)
    /// The key file (32 bytes, mode 0600) sealing secret env values in the store; nil uses
    /// `DATA/secret.key`, made on first start. Coordinators sharing a store need the same key.
    public var secretKeyFile: String?
    /// A second listener serving only `GET /metrics`, without a token (`--metrics-listen`);
    /// nil serves metrics on the API listener only, to admin tokens.
    public var metricsListen: ListenAddress?

    public init() {}
}

/// HOST:PORT a listener binds; port 0 picks a free one.
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { (self.host, self.port) = (host, port) }
}

extension CoordinatorConfiguration {
    /// The scheduling and pricing policy these settings give, with the rate card loaded from `ratesFile`.
    public func policy(rateCard: RateCard) -> ClusterPolicy {
        ClusterPolicy(defaultQuota: defaultQuota, currency: currency, reserveAfterMilliseconds: reserveAfter?.milliseconds,
                      placement: placement, rateCard: rateCard)
    }
}
