import DroverAPI
import DroverTrust
import Foundation

/// One client setting under its flag and `DROVER_*` variable.
public typealias ClientSetting = Setting<ClientConfiguration>

/// Where the CLI's client commands find the coordinator and how they authenticate.
public struct ClientConfiguration: ResolvableConfiguration {
    public var coordinatorURL = "http://127.0.0.1:7070"
    /// Bearer token; requests go without one when nil (and are refused, `/healthz` aside).
    public var token: String?
    /// PEM CA certificate to trust, besides the system's, for an HTTPS coordinator.
    public var caCertificate: String?
    /// Pin of the only CA to trust (`sha256:HEX`): fetched from the coordinator and checked.
    public var caPin: CAPin?

    public init() {}

    /// Every setting of the client commands (`drover submit`, `jobs`, ...): flags and
    /// environment only; the names are the user-facing contract.
    public static let settings = Settings<ClientConfiguration>("client", hasFile: false, [
        ClientSetting("coordinator", flag: "coordinator", default: "http://127.0.0.1:7070", "Coordinator URL") { input, c throws(ConfigurationError) in
            c.coordinatorURL = try input.url()
        },
        ClientSetting("token", flag: "token", default: "none", "Bearer token: the admin token or a team's submitter or reader token") { input, c throws(ConfigurationError) in
            c.token = try input.text()
        },
        ClientSetting("caCert", flag: "ca-cert", default: "none", "PEM CA certificate to trust, besides the system's, for an HTTPS coordinator") { input, c throws(ConfigurationError) in
            c.caCertificate = try input.path()
        },
        ClientSetting("caPin", flag: "ca-pin", default: "none", "Pin (sha256:HEX) of the coordinator's generated CA, printed at its start: the only CA then trusted") { input, c throws(ConfigurationError) in
            c.caPin = try input.caPin()
        },
    ])

    public func validate() throws(ConfigurationError) {
        try CoordinatorTrust.check(url: coordinatorURL, caCertificate: caCertificate, caPin: caPin)
    }

    /// The API client these settings describe.
    public func client() throws -> DroverClient {
        try DroverClient(baseURL: coordinatorURL, token: token, caCertificate: caCertificate, caPin: caPin)
    }
}

extension SettingInput {
    /// A CA pin, `sha256:` and 64 hex digits.
    public func caPin() throws(ConfigurationError) -> CAPin {
        let text = try text()
        do { return try CAPin(parsing: text) } catch { throw fail(error.description) }
    }
}
