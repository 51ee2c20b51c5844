import DroverAPI
import DroverCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Per-request context: who is calling.
public struct DroverRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var principal: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
    }
}

/// Resolves the bearer token into a ``Principal``; refuses requests without a valid one.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = DroverRequestContext
    let cluster: Cluster
    /// Digests of the configured admin and join tokens (nil when not configured), so that a
    /// request costs one SHA-256: its own token's.
    let adminDigest: [UInt8]?
    let joinDigest: [UInt8]?

    init(cluster: Cluster, adminToken: String, joinToken: String) {
        self.cluster = cluster
        adminDigest = adminToken.isEmpty ? nil : TokenHash.digest(adminToken)
        joinDigest = joinToken.isEmpty ? nil : TokenHash.digest(joinToken)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
        guard let header = request.headers[.authorization], let space = header.firstIndex(of: " "),
              header[..<space].lowercased() == "bearer" else { throw APIError.unauthorized }
        let token = String(header[space...]).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { throw APIError.unauthorized }
        var context = context
        let digest = TokenHash.digest(token)
        let hash = TokenHash.hex(digest: digest)
        if let adminDigest, TokenHash.constantTimeEquals(digest: digest, adminDigest) {
            context.principal = .admin(tokenID: nil)
        } else if let joinDigest, TokenHash.constantTimeEquals(digest: digest, joinDigest) {
            context.principal = .joiner
        } else if let principal = cluster.queries.principal(tokenHash: hash) {
            context.principal = principal
        } else if let revoked = cluster.queries.revokedToken(hash: hash) {
            throw APIError.revokedToken(id: revoked.id)
        } else {
            throw APIError.unknownToken
        }
        return try await next(request, context)
    }
}

/// The /v1 routes. Handlers parse and check input, call ``Cluster``, and shape the answer.
struct Routes {
    let cluster: Cluster
    let configuration: CoordinatorConfiguration
    /// The generated CA's certificate, served without a token at /v1/ca: a client given only
    /// its pin fetches it once, checks the pin, then trusts it (``CAPin``).
    var caCertificatePEM: String? = nil

    /// Adds every route; `OpenAPIDocument` must list exactly these (a test checks it).
    func register(on router: Router<DroverRequestContext>) {
        registerHealth(on: router)
        router.get("/v1/ca") { _, _ in try caCertificate() }
        let v1 = router.group("v1").add(middleware: StoreOutageMiddleware(cluster: cluster)).add(middleware: AuthMiddleware(cluster: cluster, adminToken: configuration.adminToken, joinToken: configuration.joinToken))
        v1.post("jobs", use: submit)
        v1.get("jobs", use: listJobs)
        v1.get("jobs/:id", use: showJob)
        v1.post("jobs/:id/cancel", use: cancelJob)
        v1.get("jobs/:id/logs", use: readLogs)
        v1.get("nodes", use: listNodes)
        for action in ["cordon", "drain", "uncordon", "revoke"] {
            v1.post("nodes/:id/\(action)") { request, context in try await changeNode(action, request: request, context: context) }
        }
        v1.get("openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        v1.put("quotas/:team", use: setQuota)
        v1.patch("quotas/:team", use: patchQuota)
        v1.get("quotas/:team", use: showQuota)
        v1.get("quotas", use: listQuotas)
        v1.post("tokens", use: createToken)
        v1.get("tokens", use: listTokens)
        v1.post("tokens/:id/revoke", use: revokeToken)
        v1.post("agents/register", use: registerAgent)
        v1.post("agents/poll", use: poll)
        v1.post("agents/heartbeat", use: heartbeat)
        v1.post("agents/reports", use: reports)
        v1.post("agents/leave", use: leave)
        v1.post("attempts/:id/logs", use: uploadLog)
        v1.post("attempts/:id/report", use: reportOne)
        registerCost(on: v1)
        registerWebhooks(on: v1)
        registerEvents(on: v1)
    }

    /// The CA's public certificate (PEM); nothing secret.
    func caCertificate() throws -> Response {
        guard let caCertificatePEM else {
            throw APIError(.notFound, "this coordinator serves no generated CA (it listens on loopback, or with --tls-cert or --insecure-http); trust its certificate with --ca-cert PEM instead of --ca-pin")
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/x-pem-file"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: caCertificatePEM)))
    }

    // MARK: - Jobs

    @Sendable func submit(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let value = Self.withTeam(of: context.principal!, try await decode(JSONValue.self, from: request, context: context))
        let spec = try JobSpecParser.parse(value)
        switch context.principal! {
        case .team(let team, .submitter, _) where team != spec.team:
            throw APIError(.forbidden, "this token submits for team \(team), not \(spec.team)", field: "team")
        case .team(_, .reader, _):
            throw APIError.forbidden("a reader token cannot submit jobs; ask an admin for a submitter token")
        default: break
        }
        switch request.uri.queryParameters.get("dryRun") {
        case nil, "false": break
        case "true": return try json(cluster.queries.estimate(spec))
        case let other?: throw APIError.badRequest("must be true or false, got '\(other)'", field: "dryRun")
        }
        let key = try Self.idempotencyKey(request)
        let (record, replayed) = try await cluster.submit(spec, by: context.principal!.actor, idempotencyKey: key)
        var response = try json(try await cluster.queries.job(record.id, withAttempts: false, eventLimit: 0), status: replayed ? .ok : .created)
        if replayed { response.headers[HTTPField.Name("Idempotent-Replayed")!] = "true" }
        return response
    }

    /// A spec without `team` sent with a team token is that team's: the one place the team
    /// is taken from the token (the CLI's `submit` needs no `--team` with one).
    static func withTeam(of principal: Principal, _ spec: JSONValue) -> JSONValue {
        guard case .team(let team, _, _) = principal, case .object(var fields) = spec, fields["team"] == nil else { return spec }
        fields["team"] = .string(team)
        return .object(fields)
    }

    /// The `Idempotency-Key` header: 1 to 255 visible ASCII characters (a UUID is typical).
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers[HTTPField.Name("Idempotency-Key")!] else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters, such as a UUID", field: "Idempotency-Key")
        }
        return key
    }

    @Sendable func listJobs(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let query = request.uri.queryParameters
        var team = query.get("team")
        if case .team(let own, _, _) = context.principal! {
            if let team, team != own { throw APIError(.forbidden, "this token reads team \(own) only", field: "team") }
            team = own
        }
        var state: JobState?
        if let text = query.get("state") {
            guard let parsed = JobState(rawValue: text) else {
                throw APIError.badRequest("unknown state '\(text)'; one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))", field: "state")
            }
            state = parsed
        }
        let limit = try intParameter(query.get("limit"), name: "limit", range: 1...100_000) ?? 1000
        let before = try intParameter(query.get("before"), name: "before", range: 1...Int(Int64.max / 2)).map { JobID(Int64($0)) }
        return try json(try await cluster.queries.jobs(team: team, state: state, before: before, limit: limit))
    }

    @Sendable func showJob(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let id = try jobID(context)
        try authorize(context, toRead: id)
        let query = request.uri.queryParameters
        let events = try intParameter(query.get("events"), name: "events", range: 0...100_000) ?? 50
        let attempts = query.get("attempts") != "false"
        return try json(try await cluster.queries.job(id, withAttempts: attempts, eventLimit: events))
    }

    @Sendable func cancelJob(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let id = try jobID(context)
        try authorize(context, toRead: id)
        if case .team(_, .reader, _) = context.principal! { throw APIError.forbidden("a reader token cannot cancel jobs") }
        try await cluster.cancel(id, by: context.principal!.actor)
        return try json(try await cluster.queries.job(id, withAttempts: false, eventLimit: 0))
    }

    @Sendable func readLogs(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let id = try jobID(context)
        try authorize(context, toRead: id)
        let query = request.uri.queryParameters
        let task = try intParameter(query.get("task"), name: "task", range: 0...Int(Int32.max)) ?? 0
        let offset = Int64(try intParameter(query.get("offset"), name: "offset", range: 0...Int(Int64.max / 2)) ?? 0)
        let wanted = try intParameter(query.get("attempt"), name: "attempt", range: 1...10_000)
        let logs = try await cluster.queries.taskLogs(of: id, task: task)
        let (attempts, taskFinished) = (logs.attempts, logs.taskFinished)
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[HTTPField.Name("Drover-Task-Finished")!] = taskFinished ? "true" : "false"
        let chosen = wanted.map { number in attempts.first { $0.number == number } } ?? attempts.last
        guard let attempt = chosen else {
            if wanted != nil { throw APIError.notFound("task \(task) of job \(id) has no attempt \(wanted!)") }
            headers[HTTPField.Name("Drover-Attempt")!] = "0"
            headers[HTTPField.Name("Drover-Next-Offset")!] = "0"
            headers[HTTPField.Name("Drover-Attempt-Finished")!] = taskFinished ? "true" : "false"
            return Response(status: .ok, headers: headers, body: .init())
        }
        let (bytes, live) = try await cluster.queries.log(of: attempt.id, from: offset)
        headers[HTTPField.Name("Drover-Attempt")!] = String(attempt.number)
        headers[HTTPField.Name("Drover-Next-Offset")!] = String(offset + Int64(bytes.count))
        headers[HTTPField.Name("Drover-Attempt-Finished")!] = live ? "false" : "true"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: - Nodes

    @Sendable func listNodes(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        return try json(cluster.queries.nodes())
    }

    @Sendable func changeNode(_ action: String, request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        let node = try cluster.queries.resolveNode(try context.parameters.require("id"))
        let target: NodeState
        switch action {
        case "cordon": target = .cordoned
        case "drain": target = .draining
        case "uncordon": target = .ready
        case "revoke":
            try await cluster.revokeNode(node, by: context.principal!.actor)
            return try json(try cluster.queries.node(node))
        case let other: throw APIError.notFound("no node action '\(other)'; use cordon, drain, uncordon or revoke")
        }
        var drainAfter: Duration?
        if let text = request.uri.queryParameters.get("deadline") {
            guard target == .draining else { throw APIError.badRequest("only a drain takes a deadline", field: "deadline") }
            guard let ms = Quantity.parseDuration(text) else { throw APIError.badRequest("'\(text)' is not a duration such as 30s or 10m", field: "deadline") }
            drainAfter = .milliseconds(ms)
        }
        try await cluster.setNodeState(node, to: target, by: context.principal!.actor, drainAfter: drainAfter)
        return try json(try cluster.queries.node(node))
    }

    // MARK: - Quotas

    @Sendable func setQuota(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        let team = try context.parameters.require("team")
        try JobSpecParser.checkIdentifier(team, field: "team", maxLength: 63)
        let quota = try JobSpecParser.parseQuota(try await decode(JSONValue.self, from: request, context: context))
        try await cluster.setQuota(quota, team: team, by: context.principal!.actor)
        return try json(cluster.queries.quotas(team: team)[0])
    }

    /// A merge patch: only the fields given change (`JobSpecParser.parseQuotaPatch`).
    @Sendable func patchQuota(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        let team = try context.parameters.require("team")
        try JobSpecParser.checkIdentifier(team, field: "team", maxLength: 63)
        let patch = try JobSpecParser.parseQuotaPatch(try await decode(JSONValue.self, from: request, context: context))
        try await cluster.patchQuota(patch, team: team, by: context.principal!.actor)
        return try json(cluster.queries.quotas(team: team)[0])
    }

    @Sendable func showQuota(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let team = try context.parameters.require("team")
        try JobSpecParser.checkIdentifier(team, field: "team", maxLength: 63)
        if case .team(let own, _, _) = context.principal!, own != team {
            throw APIError.forbidden("a team token reads its own team's quota only (\(own)); ask an admin for team \(team)'s")
        }
        return try json(cluster.queries.quotas(team: team)[0])
    }

    @Sendable func listQuotas(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        if case .team(let team, _, _) = context.principal! { return try json(cluster.queries.quotas(team: team)) }
        return try json(cluster.queries.quotas())
    }

    // MARK: - Tokens

    @Sendable func createToken(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        let body = try await decode(TokenCreateRequest.self, from: request, context: context)
        let role = body.role
        guard role == .submitter || role == .reader else {
            throw APIError.badRequest("role must be submitter or reader", field: "role")
        }
        try JobSpecParser.checkIdentifier(body.team, field: "team", maxLength: 63)
        let (record, secret) = try await cluster.createToken(role: role, team: body.team, by: context.principal!.actor)
        return try json(TokenCreated(token: secret, info: Self.view(of: record)), status: .created)
    }

    @Sendable func listTokens(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        return try json(cluster.queries.tokens().map(Self.view(of:)))
    }

    @Sendable func revokeToken(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        let id = try context.parameters.require("id")
        try await cluster.revokeToken(id: id, by: context.principal!.actor)
        guard let record = cluster.queries.token(id: id) else { throw APIError.notFound("token \(id) does not exist") }
        return try json(Self.view(of: record))
    }

    static func view(of token: TokenRecord) -> TokenView {
        TokenView(id: token.id, role: token.role, team: token.team, createdAt: WireTime.format(milliseconds: token.createdAt.milliseconds),
                  createdBy: token.createdBy, revokedAt: token.revokedAt.map { WireTime.format(milliseconds: $0.milliseconds) })
    }

    // MARK: - Helpers

    func requireAdmin(_ context: DroverRequestContext) throws {
        guard context.principal!.isAdmin else { throw APIError.forbidden("this endpoint needs an admin token") }
    }

    /// People: admins and team tokens (not agents or the join token).
    func requireUser(_ context: DroverRequestContext) throws {
        switch context.principal! {
        case .admin, .team: return
        case .joiner, .agent: throw APIError.forbidden("this endpoint needs an admin or team token")
        }
    }

    /// A team token sees its own team's jobs only; another team's job answers 404 as if it
    /// did not exist, so tokens cannot probe for other teams' work.
    func authorize(_ context: DroverRequestContext, toRead job: JobID) throws {
        try requireUser(context)
        guard case .team(let team, _, _) = context.principal! else { return }
        guard cluster.queries.team(of: job) == team else { throw APIError.notFound("job \(job) does not exist") }
    }

    func requireAgent(_ context: DroverRequestContext) throws -> NodeID {
        guard case .agent(let node) = context.principal else { throw APIError.forbidden("this endpoint is for agents, with the token they got at registration") }
        return node
    }

    func jobID(_ context: DroverRequestContext) throws -> JobID {
        let text = try context.parameters.require("id")
        guard let id = JobID(text) else { throw APIError.badRequest("'\(text)' is not a job id (a positive number)", field: "id") }
        return id
    }

    func intParameter(_ text: String?, name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.badRequest("must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'", field: name)
        }
        return value
    }

    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: DroverRequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("request body is empty; expected JSON") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            // Checked only on failure: a body that is not UTF-8 is said to be so, not "expected …".
            guard String(validating: buffer.readableBytesView, as: UTF8.self) != nil else {
                throw APIError.badRequest("request body is not valid UTF-8; send JSON encoded as UTF-8")
            }
            throw APIError.badRequest(ProblemMiddleware<DroverRequestContext>.describe(error), field: ProblemMiddleware<DroverRequestContext>.field(of: error))
        }
    }
}

private let jsonEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
}()

private let unsortedEncoder = JSONEncoder()

/// A JSON response; keys sorted unless `sortedKeys` is false.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, sortedKeys: Bool = true) throws -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers,
                    body: .init(byteBuffer: ByteBuffer(bytes: try (sortedKeys ? jsonEncoder : unsortedEncoder).encode(value))))
}
