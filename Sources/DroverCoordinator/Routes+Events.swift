import DroverAPI
import DroverCore
import DroverStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

// `GET /v1/events`: the audit trail as `{id, type, timestamp, data}`, recent events as JSON or,
// with `follow=true`, a server-sent event stream. A team token sees its team's jobs' events only.
extension Routes {
    func registerEvents(on v1: RouterGroup<DroverRequestContext>) {
        v1.get("events", use: events)
    }

    /// Query: `job`, `limit` (default 100), `before` (paging back) or `after` (forward),
    /// `follow`. A stream resumes after `Last-Event-ID` (or `after`); without either it starts
    /// with the most recent `limit` events.
    @Sendable func events(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let query = request.uri.queryParameters
        let job = try query.get("job").map { text throws -> JobID in
            guard let id = JobID(text) else { throw APIError.badRequest("'\(text)' is not a job id (a positive number)", field: "job") }
            try authorize(context, toRead: id)
            return id
        }
        let team: String? = if case .team(let own, _, _) = context.principal! { own } else { nil }
        let limit = try intParameter(query.get("limit"), name: "limit", range: 1...10_000) ?? 100
        let before = try intParameter(query.get("before"), name: "before", range: 1...Int(Int64.max / 2)).map { Int64($0) }
        let resumeHeader = request.headers[HTTPField.Name("Last-Event-ID")!]
        let after = try intParameter(resumeHeader ?? query.get("after"), name: resumeHeader == nil ? "after" : "Last-Event-ID",
                                     range: 0...Int(Int64.max / 2)).map { Int64($0) }
        let follow: Bool
        switch query.get("follow") {
        case nil, "false": follow = false
        case "true": follow = true
        case let other?: throw APIError.badRequest("must be true or false, got '\(other)'", field: "follow")
        }
        let first = try await cluster.queries.fromStore { try await $0.eventLog(after: after, before: before, job: job, team: team, limit: limit) }
        guard follow else { return try json(first.map(Cluster.view(of:))) }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let cluster = self.cluster
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var cursor = first.last?.id ?? after ?? 0
            if first.isEmpty, after == nil {
                // Nothing yet: follow from the end of the trail as it is now.
                cursor = try await cluster.store.eventLog(after: nil, before: nil, job: nil, team: nil, limit: 1).last?.id ?? 0
            }
            try await writer.write(EventStreamFormat.encode(first.map(Cluster.view(of:))))
            try await EventStreamFormat.follow(cluster: cluster, after: cursor, job: job, team: team, writer: &writer)
            try await writer.finish(nil)
        })
    }
}

/// Server-sent events framing (`id:` and `data:` lines, a blank line after each), and the
/// follow loop: read what was committed after the cursor, write it, wait for the next commit.
enum EventStreamFormat {
    static func encode(_ events: [StreamEventView]) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var text = ""
        for event in events {
            text += "id: \(event.id)\ndata: \(String(decoding: try encoder.encode(event), as: UTF8.self))\n\n"
        }
        return ByteBuffer(string: text)
    }

    /// Until shutdown or the client goes away. A wait that times out writes a comment line,
    /// which keeps proxies from closing the stream and notices a client that left.
    static func follow(cluster: Cluster, after start: Int64, job: JobID?, team: String?, writer: inout any ResponseBodyWriter) async throws {
        var cursor = start
        while !Task.isCancelled && !cluster.shuttingDown.load(ordering: .relaxed) {
            let snapshot = cluster.webhooks.events.snapshot(for: WebhookHub.channel)
            let page = try await cluster.store.eventLog(after: cursor, before: nil, job: job, team: team, limit: 500)
            if let last = page.last {
                cursor = last.id
                try await writer.write(encode(page.map(Cluster.view(of:))))
                continue
            }
            await cluster.webhooks.events.wait(node: WebhookHub.channel, since: snapshot, timeout: .seconds(15))
            if cluster.webhooks.events.snapshot(for: WebhookHub.channel) == snapshot {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
            }
        }
    }
}
