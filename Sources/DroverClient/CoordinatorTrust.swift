import AsyncHTTPClient
import DroverAPI
import DroverTrust
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// How a client trusts an HTTPS coordinator: the system roots (plus a CA file, `--ca-cert`), or
/// only the CA whose pin it was given (`--ca-pin`).
public enum CoordinatorTrust {
    /// Checks that the trust fits the URL: a pin means HTTPS, and one way to trust at a time.
    public static func check(url: String, caCertificate: String?, caPin: CAPin?) throws(ConfigurationError) {
        guard let caPin else { return }
        guard caCertificate == nil else {
            throw ConfigurationError("give --ca-pin or --ca-cert, not both: the pin already says which CA to trust")
        }
        guard url.lowercased().hasPrefix("https://") else {
            throw ConfigurationError("--ca-pin \(caPin) needs an https:// coordinator URL, got \(url); the coordinator prints the URL to use at start")
        }
    }
}

/// The HTTP clients of the process, one per way of trusting, kept for its life (AsyncHTTPClient
/// wants clients shut down before they are released; these never are).
enum HTTPClients {
    private static let byCA = Mutex<[String: HTTPClient]>([:])
    private static let byPin = Mutex<[String: PinnedCoordinator]>([:])

    /// The client for a coordinator at `baseURL` trusted by `pin`; it fetches and checks the CA on first use.
    static func pinned(_ pin: CAPin, baseURL: String) async throws -> HTTPClient {
        let coordinator = byPin.withLock { coordinators in
            let key = "\(pin) \(baseURL)"
            if let coordinator = coordinators[key] { return coordinator }
            let coordinator = PinnedCoordinator(baseURL: baseURL, pin: pin)
            coordinators[key] = coordinator
            return coordinator
        }
        return try await coordinator.client()
    }

    /// System roots plus `caCertificate` (a PEM file) when given.
    static func trusting(_ caCertificate: String?) throws -> HTTPClient {
        try byCA.withLock { clients in
            if let client = clients[caCertificate ?? ""] { return client }
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caCertificate {
                do {
                    tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caCertificate))]
                } catch {
                    throw DroverClientError.unreachable(url: caCertificate, detail: "cannot read the CA certificate: \(error)")
                }
            }
            let client = make(tls)
            clients[caCertificate ?? ""] = client
            return client
        }
    }

    /// Verifies no certificate: only for fetching a CA that is then checked against its pin.
    static let unverified: HTTPClient = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return make(tls)
    }()

    static func make(_ tls: TLSConfiguration) -> HTTPClient {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        // A refused connection or an untrusted certificate is reported at once instead of
        // being retried until the request's deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        // An agent holds a long poll, heartbeats, reports and uploads output at once.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

/// A coordinator trusted by its CA's pin, as kubeadm's discovery does: the CA certificate is
/// fetched once from `/v1/ca` over a connection that verifies nothing, its pin compared, and
/// then it is the only trust root, hostname checks on, for every request. A man in the middle
/// can hand over the real CA certificate but holds no certificate it signed.
final class PinnedCoordinator: Sendable {
    let baseURL: String
    let pin: CAPin
    /// The check under way or done; a failed one is forgotten, so a later request tries again.
    private let established = Mutex<Task<HTTPClient, any Error>?>(nil)

    init(baseURL: String, pin: CAPin) {
        self.baseURL = baseURL
        self.pin = pin
    }

    func client() async throws -> HTTPClient {
        let task = established.withLock { current in
            if let current { return current }
            let (baseURL, pin) = (baseURL, pin)
            let task = Task { try await Self.establish(baseURL: baseURL, pin: pin) }
            current = task
            return task
        }
        do {
            return try await task.value
        } catch {
            established.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    private static func establish(baseURL: String, pin: CAPin) async throws -> HTTPClient {
        let request = HTTPClientRequest(url: baseURL + "/v1/ca")
        let (status, body): (HTTPResponseStatus, [UInt8])
        do {
            let response = try await HTTPClients.unverified.execute(request, timeout: .seconds(30))
            status = response.status
            body = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        } catch {
            throw DroverClientError(transportError: error, url: baseURL)
        }
        guard status == .ok else {
            let detail = (try? JSONDecoder().decode(ProblemDetails.self, from: Data(body)))?.detail ?? "HTTP \(status.code)"
            throw DroverClientError.caPinUnusable(url: baseURL, detail: detail)
        }
        let pem = String(decoding: body, as: UTF8.self)
        let served: CAPin
        let roots: [NIOSSLCertificate]
        do {
            served = try CAPin(ofPEM: pem)
            roots = try NIOSSLCertificate.fromPEMBytes(body)
        } catch {
            throw DroverClientError.caPinUnusable(url: baseURL, detail: "its /v1/ca answer is not a PEM certificate (\(error))")
        }
        guard served == pin else { throw DroverClientError.caPinMismatch(url: baseURL, expected: pin, served: served) }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(roots)
        return HTTPClients.make(tls)
    }
}
