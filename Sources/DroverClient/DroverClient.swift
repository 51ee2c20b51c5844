import AsyncHTTPClient
import DroverAPI
import DroverCore
import DroverTrust
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A typed client of the coordinator's /v1 API, used by the CLI and the agent.
public struct DroverClient: Sendable {
    /// Base URL of the coordinator, e.g. `http://127.0.0.1:7070`.
    public let baseURL: String
    /// Bearer token sent with every request.
    public var token: String?
    private let connection: Connection

    /// An HTTP client, or the pin it is made from on first use.
    private enum Connection: Sendable {
        case ready(HTTPClient)
        case pinned(CAPin)
    }

    /// A client that fails fast when the coordinator cannot be reached (callers retry with
    /// their own backoff). It trusts `caCertificate` (a PEM file) besides the system's roots
    /// when given, for a coordinator whose certificate a private CA signed; or, given `caPin`,
    /// only the CA with that pin, which it fetches from the coordinator and checks first.
    public init(baseURL: String, token: String?, caCertificate: String?, caPin: CAPin? = nil) throws {
        do {
            try CoordinatorTrust.check(url: baseURL, caCertificate: caCertificate, caPin: caPin)
        } catch {
            throw DroverClientError.misconfigured(error.description)
        }
        if let caPin {
            self.init(baseURL: baseURL, token: token, connection: .pinned(caPin))
        } else {
            self.init(baseURL: baseURL, token: token, httpClient: try HTTPClients.trusting(caCertificate))
        }
    }

    public init(baseURL: String, token: String?, httpClient: HTTPClient = .shared) {
        self.init(baseURL: baseURL, token: token, connection: .ready(httpClient))
    }

    private init(baseURL: String, token: String?, connection: Connection) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
        self.connection = connection
    }

    // MARK: - Jobs

    /// Submits a job spec (YAML or flags, already turned into JSON); returns the new job.
    public func submit(_ spec: JSONValue) async throws -> JobView {
        try await send(.POST, "/v1/jobs", body: spec)
    }

    /// Submits with an `Idempotency-Key`, retrying while the coordinator cannot be reached, its
    /// answer is lost or it is unavailable (503) (up to `attempts` tries of at most `tryTimeout`
    /// each, backing off from 200 ms): the key makes every try the same submission, so a retry
    /// never creates a second job. A try that gets no answer within `tryTimeout` is given up,
    /// since a connection cut on the way may never say so.
    public func submit(_ spec: JSONValue, idempotencyKey key: String, attempts: Int = 6, tryTimeout: Duration = .seconds(10)) async throws -> JobView {
        var delay = Duration.milliseconds(200)
        var tries = 1
        while true {
            do {
                return try await send(.POST, "/v1/jobs", body: spec, timeout: .milliseconds(tryTimeout.milliseconds), headers: [("Idempotency-Key", key)])
            } catch let error as DroverClientError where tries < attempts && (error.isUnreachable || error.status == 503) {
                try await Task.sleep(for: delay)
                delay *= 2
                tries += 1
            }
        }
    }

    /// Jobs, newest first; `before` (a job id) gives the page after the one that ended there.
    public func jobs(team: String? = nil, state: String? = nil, limit: Int? = nil, before: String? = nil) async throws -> [JobView] {
        var query: [String] = []
        if let before { query.append("before=\(Self.escape(before))") }
        if let team { query.append("team=\(Self.escape(team))") }
        if let state { query.append("state=\(Self.escape(state))") }
        if let limit { query.append("limit=\(limit)") }
        return try await send(.GET, "/v1/jobs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    /// A job with its attempts and its most recent `events` events.
    public func job(_ id: String, events: Int = 50) async throws -> JobView {
        try await send(.GET, "/v1/jobs/\(Self.escape(id))?events=\(events)")
    }

    /// A job's counts and state only: cheap enough to poll.
    public func jobSummary(_ id: String) async throws -> JobView {
        try await send(.GET, "/v1/jobs/\(Self.escape(id))?attempts=false&events=0")
    }

    public func cancel(_ id: String) async throws -> JobView {
        try await send(.POST, "/v1/jobs/\(Self.escape(id))/cancel", body: Optional<JSONValue>.none)
    }

    /// A piece of a task's output. `attempt` nil means the task's latest attempt.
    public func logs(job: String, task: Int, attempt: Int? = nil, offset: Int64 = 0) async throws -> LogChunk {
        var path = "/v1/jobs/\(Self.escape(job))/logs?task=\(task)&offset=\(offset)"
        if let attempt { path += "&attempt=\(attempt)" }
        let (head, body) = try await raw(.GET, path, body: nil, timeout: .seconds(60))
        try Self.check(head: head, body: body)
        func header(_ name: String) -> String? { head.headers.first(name: name) }
        return LogChunk(
            data: body, attempt: header("Drover-Attempt").flatMap(Int.init) ?? 0,
            nextOffset: header("Drover-Next-Offset").flatMap(Int64.init) ?? offset + Int64(body.count),
            attemptFinished: header("Drover-Attempt-Finished") == "true", taskFinished: header("Drover-Task-Finished") == "true")
    }

    // MARK: - Nodes

    public func nodes() async throws -> [NodeView] {
        try await send(.GET, "/v1/nodes")
    }

    /// `action` is cordon, drain, uncordon or revoke.
    public func node(_ id: String, action: String, deadline: String? = nil) async throws -> NodeView {
        let query = deadline.map { "?deadline=\(Self.escape($0))" } ?? ""
        return try await send(.POST, "/v1/nodes/\(Self.escape(id))/\(action)\(query)", body: Optional<JSONValue>.none)
    }

    // MARK: - Quotas

    /// Sets a team's quota (admin): fields cpu, memory, gpu, running, weight; absent is unlimited.
    public func setQuota(team: String, _ quota: JSONValue) async throws -> QuotaView {
        try await send(.PUT, "/v1/quotas/\(Self.escape(team))", body: quota)
    }

    /// Changes the fields of a team's quota that `patch` gives (admin); `null` clears one.
    public func patchQuota(team: String, _ patch: JSONValue) async throws -> QuotaView {
        try await send(.PATCH, "/v1/quotas/\(Self.escape(team))", body: patch)
    }

    /// One team's quota, use and budget.
    public func quota(team: String) async throws -> QuotaView {
        try await send(.GET, "/v1/quotas/\(Self.escape(team))")
    }

    public func quotas() async throws -> [QuotaView] {
        try await send(.GET, "/v1/quotas")
    }

    // MARK: - Cost

    /// What a job would cost and whether its team's budget admits it; submits nothing.
    public func estimate(_ spec: JSONValue) async throws -> CostEstimateView {
        try await send(.POST, "/v1/jobs?dryRun=true", body: spec)
    }

    /// Ledger totals grouped by `by` (team, job, node, day) over `since..<until` (dates or RFC 3339).
    public func cost(by: String, since: String? = nil, until: String? = nil, team: String? = nil) async throws -> CostReportView {
        var query = ["by=\(Self.escape(by))"]
        if let since { query.append("since=\(Self.escape(since))") }
        if let until { query.append("until=\(Self.escape(until))") }
        if let team { query.append("team=\(Self.escape(team))") }
        return try await send(.GET, "/v1/cost?" + query.joined(separator: "&"))
    }

    /// Ledger rows after row `after`, oldest first.
    public func ledger(attempt: String? = nil, team: String? = nil, after: Int64 = 0, limit: Int = 1000) async throws -> [LedgerEntryView] {
        var query = ["after=\(after)", "limit=\(limit)"]
        if let attempt { query.append("attempt=\(Self.escape(attempt))") }
        if let team { query.append("team=\(Self.escape(team))") }
        return try await send(.GET, "/v1/ledger?" + query.joined(separator: "&"))
    }

    /// Appends a ledger row reversing row `id` (admin).
    public func reverseLedgerEntry(_ id: String, reason: String) async throws -> LedgerEntryView {
        try await send(.POST, "/v1/ledger/\(Self.escape(id))/reverse", body: LedgerReverseRequest(reason: reason))
    }

    public func alerts(team: String? = nil, limit: Int = 100) async throws -> [AlertView] {
        try await send(.GET, "/v1/alerts?limit=\(limit)" + (team.map { "&team=\(Self.escape($0))" } ?? ""))
    }

    // MARK: - Tokens

    /// Creates a team token (admin only); the answer holds the secret, shown only this once.
    public func createToken(team: String, role: TokenRole) async throws -> TokenCreated {
        try await send(.POST, "/v1/tokens", body: TokenCreateRequest(team: team, role: role))
    }

    public func tokens() async throws -> [TokenView] {
        try await send(.GET, "/v1/tokens")
    }

    public func revokeToken(_ id: String) async throws -> TokenView {
        try await send(.POST, "/v1/tokens/\(Self.escape(id))/revoke", body: Optional<JSONValue>.none)
    }

    // MARK: - Agent protocol

    public func register(_ request: RegisterRequest) async throws -> RegisterResponse {
        try await send(.POST, "/v1/agents/register", body: request)
    }

    /// Long-polls for leases; the request lives up to `request.waitMs` plus a margin.
    public func poll(_ request: PollRequest) async throws -> PollResponse {
        try await send(.POST, "/v1/agents/poll", body: request, timeout: .milliseconds(request.waitMs + 15_000))
    }

    public func heartbeat(_ request: HeartbeatRequest) async throws -> HeartbeatResponse {
        try await send(.POST, "/v1/agents/heartbeat", body: request)
    }

    public func report(_ batch: ReportBatch) async throws -> ReportResults {
        try await send(.POST, "/v1/agents/reports", body: batch)
    }

    /// Tells the coordinator the agent stops: its node is down at once. Short: shutdown waits on it.
    public func leave(timeout: Duration = .seconds(5)) async throws {
        let (head, body) = try await raw(.POST, "/v1/agents/leave", body: nil, timeout: .milliseconds(timeout.milliseconds))
        try Self.check(head: head, body: body)
    }

    /// Reports one attempt; a stale report throws a 409 problem.
    public func reportOne(_ report: ReportView) async throws -> ReportResultView {
        try await send(.POST, "/v1/attempts/\(Self.escape(report.attemptId))/report", body: report)
    }

    /// Appends output of an attempt at `offset`. Throws a 409 problem if the lease is gone.
    public func uploadLog(attempt: String, offset: Int64, data: [UInt8]) async throws {
        let (head, body) = try await raw(.POST, "/v1/attempts/\(Self.escape(attempt))/logs?offset=\(offset)", body: data, timeout: .seconds(30),
                                         contentType: "application/octet-stream")
        try Self.check(head: head, body: body)
    }

    /// `GET /healthz`.
    public func health() async throws -> Bool {
        let (head, _) = try await raw(.GET, "/healthz", body: nil, timeout: .seconds(5))
        return head.status == .ok
    }

    // MARK: - Transport

    func send<Response: Decodable>(_ method: HTTPMethod, _ path: String, timeout: TimeAmount = .seconds(30)) async throws -> Response {
        try await send(method, path, body: Optional<JSONValue>.none, timeout: timeout)
    }

    func send<Body: Encodable, Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Body?, timeout: TimeAmount = .seconds(30),
                                                            headers: [(String, String)] = []) async throws -> Response {
        let data = try body.map { Array(try JSONEncoder().encode($0)) }
        let (head, responseBody) = try await raw(method, path, body: data, timeout: timeout, contentType: "application/json", headers: headers)
        try Self.check(head: head, body: responseBody)
        do {
            return try JSONDecoder().decode(Response.self, from: Data(responseBody))
        } catch {
            throw DroverClientError.unreadableResponse(path: path, detail: "\(error)")
        }
    }

    private struct Head { var status: HTTPResponseStatus; var headers: HTTPHeaders }

    private func raw(_ method: HTTPMethod, _ path: String, body: [UInt8]?, timeout: TimeAmount, contentType: String? = nil,
                     headers: [(String, String)] = []) async throws -> (Head, [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        }
        let http = try await httpClient()
        do {
            let response = try await http.execute(request, timeout: timeout)
            let buffer = try await response.body.collect(upTo: 64 << 20)
            return (Head(status: response.status, headers: response.headers), Array(buffer.readableBytesView))
        } catch {
            if error is CancellationError { throw error }
            throw DroverClientError(transportError: error, url: baseURL)
        }
    }

    /// The HTTP client requests go through (for a pinned CA, made on first use).
    func httpClient() async throws -> HTTPClient {
        switch connection {
        case .ready(let client): client
        case .pinned(let pin): try await HTTPClients.pinned(pin, baseURL: baseURL)
        }
    }

    static func check(status: HTTPResponseStatus, body: [UInt8]) throws {
        try check(head: Head(status: status, headers: [:]), body: body)
    }

    private static func check(head: Head, body: [UInt8]) throws {
        guard head.status.code >= 400 else { return }
        if let problem = try? JSONDecoder().decode(ProblemDetails.self, from: Data(body)) {
            throw DroverClientError.problem(problem)
        }
        let text = String(decoding: body.prefix(500), as: UTF8.self)
        throw DroverClientError.problem(ProblemDetails(title: head.status.reasonPhrase, status: Int(head.status.code), detail: text.isEmpty ? head.status.reasonPhrase : text))
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}

/// Part of a task's output and where the next read starts.
public struct LogChunk: Sendable {
    public var data: [UInt8]
    public var attempt: Int
    public var nextOffset: Int64
    /// The attempt ended and its whole output has arrived.
    public var attemptFinished: Bool
    /// The task will run no further attempt.
    public var taskFinished: Bool
}

/// Why a request to the coordinator failed.
public enum DroverClientError: Error, CustomStringConvertible, Sendable {
    /// The coordinator answered with an error.
    case problem(ProblemDetails)
    /// No answer: the coordinator is down or unreachable.
    case unreachable(url: String, detail: String)
    case unreadableResponse(path: String, detail: String)
    /// The coordinator's certificate did not verify against what this client trusts.
    case untrustedCertificate(url: String, detail: String)
    /// The CA the coordinator serves is not the one pinned.
    case caPinMismatch(url: String, expected: CAPin, served: CAPin)
    /// The coordinator has no CA to check a pin against.
    case caPinUnusable(url: String, detail: String)
    /// The URL and the trust settings do not fit together.
    case misconfigured(String)

    public var description: String {
        switch self {
        case .problem(let problem) where problem.status == 503 && !problem.detail.lowercased().contains("retry"):
            "the coordinator is unavailable for now (\(problem.description)); try again later"
        case .problem(let problem): problem.description
        case .unreachable(let url, let detail): "cannot reach the coordinator at \(url): \(detail)"
        case .unreadableResponse(let path, let detail): "unexpected answer from \(path): \(detail)"
        case .untrustedCertificate(let url, let detail):
            "the coordinator at \(url) presented a certificate this client does not trust (\(detail)); pass --ca-pin sha256:... as the coordinator printed at start (env DROVER_CA_PIN), or --ca-cert with its CA certificate (env DROVER_CA_CERT)"
        case .caPinMismatch(let url, let expected, let served):
            "the coordinator's CA at \(url) does not match --ca-pin \(expected) (it serves \(served)): wrong coordinator or a man in the middle; check the pin the coordinator printed at start"
        case .caPinUnusable(let url, let detail): "cannot check --ca-pin against the coordinator at \(url): \(detail)"
        case .misconfigured(let detail): detail
        }
    }

    /// A failed exchange, said so a person knows what to do: an untrusted certificate names the
    /// flags that trust one, instead of BoringSSL's error stack.
    init(transportError error: any Error, url: String) {
        if let error = error as? DroverClientError {
            self = error
        } else if let tls = error as? NIOSSLExtraError, tls == .failedToValidateHostname {
            self = .untrustedCertificate(url: url, detail: "its certificate does not name the host of \(url)")
        } else if error is NIOSSLError || error is BoringSSLError, "\(error)".contains("CERTIFICATE_VERIFY_FAILED") {
            self = .untrustedCertificate(url: url, detail: "its certificate is not signed by a trusted CA")
        } else if error is NIOSSLError || error is BoringSSLError, "\(error)".contains("WRONG_VERSION_NUMBER") {
            self = .unreachable(url: url, detail: "it does not answer TLS — if it serves plain HTTP, use an http:// URL")
        } else if let http = error as? HTTPClientError, http == .remoteConnectionClosed, url.lowercased().hasPrefix("http://") {
            self = .unreachable(url: url, detail: "it closed the connection — if it serves HTTPS, as it does beyond loopback, use an https:// URL")
        } else {
            self = .unreachable(url: url, detail: TransportFailure(error).hint)
        }
    }

    /// The coordinator is not trusted as configured (certificate, pin, settings): retrying cannot help.
    public var isTrustFailure: Bool {
        switch self {
        case .untrustedCertificate, .caPinMismatch, .caPinUnusable, .misconfigured: true
        case .problem, .unreachable, .unreadableResponse: false
        }
    }

    /// The coordinator could not be reached, or its answer was lost.
    public var isUnreachable: Bool {
        if case .unreachable = self { return true }
        return false
    }

    /// HTTP status of a problem answer.
    public var status: Int? {
        if case .problem(let problem) = self { return problem.status }
        return nil
    }
}
