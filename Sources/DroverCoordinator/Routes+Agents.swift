import DroverAPI
import DroverCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The agent protocol: registration, long polls, heartbeats, reports and output.
extension Routes {

    @Sendable func registerAgent(_ request: Request, context: DroverRequestContext) async throws -> Response {
        guard context.principal == .joiner || context.principal!.isAdmin else {
            throw APIError.forbidden("registering an agent needs the join token")
        }
        let body = try await decode(RegisterRequest.self, from: request, context: context)
        try JobSpecParser.checkIdentifier(body.name, field: "name", maxLength: 63)
        guard body.cpu > 0, body.cpu <= 1_000_000 else { throw APIError.badRequest("must be more than 0 cores", field: "cpu") }
        guard body.memory > 0 else { throw APIError.badRequest("must be more than 0 bytes", field: "memory") }
        guard body.gpus.count <= 1024, Set(body.gpus.map(\.index)).count == body.gpus.count, body.gpus.allSatisfy({ $0.index >= 0 }) else {
            throw APIError.badRequest("GPU indices must be distinct and not negative", field: "gpus")
        }
        for (key, _) in body.labels where !Labels.isValidKey(key) {
            throw APIError.badRequest("'\(key)' is not a valid label key", field: "labels.\(key)")
        }
        for (name, price) in [("cpuHour", body.prices.cpuHour), ("memoryGiBHour", body.prices.memoryGiBHour), ("gpuHour", body.prices.gpuHour)]
            where price < 0 || price > 1_000_000 {
            throw APIError.badRequest("must be from 0 to 1000000", field: "prices.\(name)")
        }
        let token = TokenHash.generate(prefix: "dra_")
        let record = try await cluster.register(WireCommands.registration(body), tokenHash: TokenHash.hex(token))
        return try json(RegisterResponse(nodeId: record.id.description, token: token, heartbeatIntervalMs: configuration.heartbeatInterval.milliseconds,
                                         leaseTtlMs: configuration.leaseTTL.milliseconds))
    }

    @Sendable func poll(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let node = try requireAgent(context)
        let body = try await decode(PollRequest.self, from: request, context: context)
        guard body.maxLeases >= 0 else { throw APIError.badRequest("must not be negative", field: "maxLeases") }
        guard body.waitMs >= 0 else { throw APIError.badRequest("must not be negative", field: "waitMs") }
        let wait = min(Duration.milliseconds(body.waitMs), configuration.maxPollWait)
        let (leases, cancels) = try await cluster.poll(node: node, maxLeases: min(body.maxLeases, configuration.maxLeasesPerPoll), wait: wait)
        return try cluster.leaseAnswers.poll(leases, cancel: cancels)
    }

    /// What an agent receives for `lease` (`LeaseAnswers` encodes the same, faster).
    static func view(of lease: Lease) -> LeaseView {
        let spec = lease.spec
        return LeaseView(
            attemptId: lease.attempt.id.description, jobId: lease.attempt.task.job.description, jobName: spec.name, team: spec.team,
            task: lease.attempt.task.index, taskCount: spec.taskCount, attempt: lease.attempt.number, command: spec.command,
            env: spec.environment, resources: Cluster.view(of: spec.resources), gpus: lease.attempt.gpuIndices,
            timeoutMs: spec.timeoutMilliseconds, secretEnv: spec.secretKeys.map { $0.sorted() })
    }

    @Sendable func heartbeat(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let node = try requireAgent(context)
        let body = try await decode(HeartbeatRequest.self, from: request, context: context)
        let (unknown, cancel) = try await cluster.heartbeat(node: node, progress: WireCommands.progress(of: body.attempts))
        return try json(HeartbeatResponse(unknown: unknown.map(\.description), cancel: cancel.map(\.description)))
    }

    /// The agent stops gracefully, after its last reports: its node is down at once (reason `left`).
    @Sendable func leave(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let node = try requireAgent(context)
        try await cluster.leave(node: node)
        return try json(["status": "ok"])
    }

    @Sendable func reports(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let node = try requireAgent(context)
        let body = try await decode(ReportBatch.self, from: request, context: context)
        guard body.reports.count <= 10_000 else { throw APIError.badRequest("at most 10000 reports per request", field: "reports") }
        guard (body.maxLeases ?? 0) >= 0 else { throw APIError.badRequest("must not be negative", field: "maxLeases") }
        let (results, leases) = try await commit(body.reports, from: node, maxLeases: min(body.maxLeases ?? 0, configuration.maxLeasesPerPoll))
        return try cluster.leaseAnswers.report(results, leases: body.maxLeases == nil ? nil : leases)
    }

    /// One report, with the verdict as the HTTP status: 200 accepted or duplicate, 409 stale, 403 not yours.
    @Sendable func reportOne(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let node = try requireAgent(context)
        let id = try context.parameters.require("id")
        var body = try await decode(ReportView.self, from: request, context: context)
        guard body.attemptId.isEmpty || body.attemptId == id else {
            throw APIError.badRequest("attemptId \(body.attemptId) differs from the attempt in the path (\(id))", field: "attemptId")
        }
        body.attemptId = id
        let result = try await commit([body], from: node, maxLeases: 0).results[0]
        switch result.status {
        case .accepted, .duplicate: return try json(result)
        case .stale: throw APIError.conflict(result.detail ?? "stale report")
        case .forbidden: throw APIError.forbidden(result.detail ?? "not your attempt")
        case .invalid, .other: throw APIError.badRequest(result.detail ?? "invalid report", field: "outcome")
        }
    }

    /// Judges a batch: reports the route cannot read are refused on their own; the cluster
    /// judges the rest; verdicts keep the batch's order.
    func commit(_ views: [ReportView], from node: NodeID, maxLeases: Int) async throws -> (results: [ReportResultView], leases: [Lease]) {
        let parsed = views.map(WireCommands.report)
        let reports = parsed.compactMap { try? $0.get() }
        let (judgements, leases) = try await cluster.report(reports, from: node, maxLeases: maxLeases)
        var next = judgements.makeIterator()
        let results = zip(views, parsed).map { view, parsed in
            switch parsed {
            case .success: WireCommands.view(of: next.next()!, attemptId: view.attemptId)
            case .failure(let refusal): ReportResultView(attemptId: view.attemptId, status: .invalid, detail: refusal.detail)
            }
        }
        return (results, leases)
    }

    @Sendable func uploadLog(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let node = try requireAgent(context)
        guard let raw = Int64(try context.parameters.require("id")) else { throw APIError.badRequest("attempt id must be a number", field: "id") }
        let offset = Int64(try intParameter(request.uri.queryParameters.get("offset"), name: "offset", range: 0...Int(Int64.max / 2)) ?? 0)
        let buffer = try await request.body.collect(upTo: configuration.maxLogChunkBytes)
        try await cluster.appendLog(attempt: AttemptID(raw), offset: offset, data: Array(buffer.readableBytesView), from: node)
        return try json(["status": "ok"])
    }

}
