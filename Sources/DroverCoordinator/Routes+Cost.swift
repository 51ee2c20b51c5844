import DroverAPI
import DroverCore
import DroverStore
import Foundation
import Hummingbird

// The cost routes: reports over the ledger, its rows and corrections, budget alerts.
extension Routes {
    func registerCost(on v1: RouterGroup<DroverRequestContext>) {
        v1.get("cost", use: costReport)
        v1.get("ledger", use: listLedger)
        v1.post("ledger/:id/reverse", use: reverseLedgerEntry)
        v1.get("alerts", use: listAlerts)
    }

    /// `GET /v1/cost?by=team|job|node|day&since=&until=&team=`: rows count by when they were booked.
    @Sendable func costReport(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let query = request.uri.queryParameters
        let byText = query.get("by") ?? "team"
        guard let grouping = CostGrouping(rawValue: byText) else {
            throw APIError.badRequest("must be team, job, node or day, got '\(byText)'", field: "by")
        }
        let since = try Self.instant(query.get("since"), field: "since", endOfDay: false) ?? Timestamp(milliseconds: 0)
        // Up to now (a row booked this millisecond included) unless told otherwise.
        let until = try Self.instant(query.get("until"), field: "until", endOfDay: true) ?? cluster.clock.now().adding(milliseconds: 1)
        guard since < until else { throw APIError.badRequest("must be after since", field: "until") }
        let team = try teamFilter(query.get("team"), context: context)
        return try json(try await cluster.queries.costReport(by: grouping, since: since, until: until, team: team))
    }

    /// `GET /v1/ledger?attempt=&team=&after=&limit=`: ledger rows, oldest first.
    @Sendable func listLedger(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let query = request.uri.queryParameters
        let attempt = try intParameter(query.get("attempt"), name: "attempt", range: 1...Int(Int64.max / 2)).map { AttemptID(Int64($0)) }
        let after = Int64(try intParameter(query.get("after"), name: "after", range: 0...Int(Int64.max / 2)) ?? 0)
        let limit = try intParameter(query.get("limit"), name: "limit", range: 1...100_000) ?? 1000
        let team = try teamFilter(query.get("team"), context: context)
        return try json(try await cluster.queries.ledger(attempt: attempt, team: team, after: after, limit: limit))
    }

    /// `POST /v1/ledger/{id}/reverse` (admin): appends a row cancelling row `id`.
    @Sendable func reverseLedgerEntry(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireAdmin(context)
        let text = try context.parameters.require("id")
        guard let id = Int64(text), id > 0 else { throw APIError.badRequest("'\(text)' is not a ledger entry id (a positive number)", field: "id") }
        let body = try await decode(LedgerReverseRequest.self, from: request, context: context)
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 1000 else { throw APIError.badRequest("give why, in at most 1000 characters", field: "reason") }
        let reversal = try await cluster.reverseLedgerEntry(id, reason: reason, by: context.principal!.actor)
        return try json(Cluster.view(of: reversal), status: .created)
    }

    /// `GET /v1/alerts?team=&limit=`: budget alerts, oldest first.
    @Sendable func listAlerts(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let query = request.uri.queryParameters
        let limit = try intParameter(query.get("limit"), name: "limit", range: 1...10_000) ?? 100
        let team = try teamFilter(query.get("team"), context: context)
        return try json(try await cluster.queries.alerts(team: team, limit: limit))
    }

    /// The team a request may see: a team token its own only; an admin any, or all.
    func teamFilter(_ asked: String?, context: DroverRequestContext) throws -> String? {
        if let asked { try JobSpecParser.checkIdentifier(asked, field: "team", maxLength: 63) }
        guard case .team(let own, _, _) = context.principal! else { return asked }
        if let asked, asked != own { throw APIError(.forbidden, "this token reads team \(own) only", field: "team") }
        return own
    }

    /// `2026-11-26` (midnight UTC; with `endOfDay`, the midnight after) or an RFC 3339 instant.
    static func instant(_ text: String?, field: String, endOfDay: Bool) throws -> Timestamp? {
        guard let text else { return nil }
        if let date = CivilDate(parsing: text), (1970...9998).contains(date.year) {
            return Timestamp.startOf(day: date.daysSinceEpoch + (endOfDay ? 1 : 0))
        }
        guard let ms = WireTime.parse(text), (0...253_402_300_799_999).contains(ms) else {
            throw APIError.badRequest("'\(text)' is not a date (2026-11-26) or an RFC 3339 time (2026-11-26T10:00:00Z) from 1970 to 9998", field: field)
        }
        return Timestamp(milliseconds: ms)
    }
}
