import DroverAPI
import DroverCore
import DroverStore
import Foundation
import Hummingbird

// Webhook registrations and the delivery log. Admins manage every hook; a team token only
// its own team's (another team's hook answers 404, as if it did not exist).
extension Routes {
    func registerWebhooks(on v1: RouterGroup<DroverRequestContext>) {
        v1.post("webhooks", use: addWebhook)
        v1.get("webhooks", use: listWebhooks)
        v1.delete("webhooks/:id", use: removeWebhook)
        v1.get("webhooks/deliveries", use: listDeliveries)
        v1.post("webhooks/deliveries/:id/redeliver", use: redeliver)
    }

    /// `POST /v1/webhooks`: answers 201 with the hook and, when made here, its secret.
    @Sendable func addWebhook(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let body = try await decode(WebhookCreateRequest.self, from: request, context: context)
        let url = try WebhookValidation.url(body.url)
        let events = try WebhookValidation.events(body.events)
        if let team = body.team { try JobSpecParser.checkIdentifier(team, field: "team", maxLength: 63) }
        if let secret = body.secret { _ = try WebhookSignature.key(of: secret) }
        var team = body.team
        switch context.principal! {
        case .team(_, .reader, _):
            throw APIError.forbidden("a reader token cannot register webhooks; ask an admin for a submitter token")
        case .team(let own, _, _):
            if let team, team != own {
                throw APIError(.forbidden, "this token registers webhooks for team \(own) only, not \(team); leave --team out or use an admin token",
                               field: "team")
            }
            team = own
        default: break
        }
        let (record, secret) = try await cluster.addWebhook(url: url, events: events, team: team, secret: body.secret, by: context.principal!.actor)
        return try json(WebhookCreated(webhook: Cluster.view(of: record), secret: secret), status: .created)
    }

    /// `GET /v1/webhooks`: the hooks this token may see, oldest first.
    @Sendable func listWebhooks(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        return try json(visibleWebhooks(context).map(Cluster.view(of:)))
    }

    @Sendable func removeWebhook(_ request: Request, context: DroverRequestContext) async throws -> Response {
        let hook = try webhook(try context.parameters.require("id"), context: context)
        if case .team(_, .reader, _) = context.principal! { throw APIError.forbidden("a reader token cannot remove webhooks") }
        try await cluster.removeWebhook(hook.id)
        return try json(Cluster.view(of: hook))
    }

    /// `GET /v1/webhooks/deliveries?webhook=ID&limit=N`: deliveries, newest first, with their tries.
    @Sendable func listDeliveries(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let query = request.uri.queryParameters
        let limit = try intParameter(query.get("limit"), name: "limit", range: 1...1000) ?? 100
        var deliveries: [DeliveryRecord]
        if let id = query.get("webhook") {
            let hook = try webhook(id, context: context)
            deliveries = try await cluster.queries.fromStore { try await $0.deliveries(webhook: hook.id, limit: limit) }
        } else if context.principal!.isAdmin {
            deliveries = try await cluster.queries.fromStore { try await $0.deliveries(webhook: nil, limit: limit) }
        } else {
            deliveries = []
            for hook in visibleWebhooks(context) {
                deliveries += try await cluster.queries.fromStore { try await $0.deliveries(webhook: hook.id, limit: limit) }
            }
            deliveries = Array(deliveries.sorted { $0.createdAt > $1.createdAt }.prefix(limit))
        }
        var views: [DeliveryView] = []
        for delivery in deliveries {
            let tries = try await cluster.queries.fromStore { try await $0.deliveryTries(of: delivery.id) }
            views.append(Cluster.view(of: delivery, tries: tries))
        }
        return try json(views)
    }

    /// `POST /v1/webhooks/deliveries/{id}/redeliver`: queues it again, due now, with the same id.
    @Sendable func redeliver(_ request: Request, context: DroverRequestContext) async throws -> Response {
        try requireUser(context)
        let id = try context.parameters.require("id")
        let missing = APIError.notFound("delivery \(id) does not exist; `drover webhook deliveries` lists them")
        guard let delivery = try await cluster.queries.fromStore({ try await $0.delivery(id) }) else { throw missing }
        guard let hook = cluster.webhooks.hook(delivery.webhook) else {
            throw APIError(.conflict, "webhook \(delivery.webhook) of delivery \(id) was removed; register it again to receive events")
        }
        guard visibleWebhooks(context).contains(hook) else { throw missing }
        if case .team(_, .reader, _) = context.principal! { throw APIError.forbidden("a reader token cannot redeliver") }
        let again = try await cluster.redeliver(delivery)
        let tries = try await cluster.queries.fromStore { try await $0.deliveryTries(of: id) }
        return try json(Cluster.view(of: again, tries: tries), status: .accepted)
    }

    func visibleWebhooks(_ context: DroverRequestContext) -> [WebhookRecord] {
        let all = cluster.webhooks.all
        guard case .team(let own, _, _) = context.principal! else { return all }
        return all.filter { $0.team == own }
    }

    func webhook(_ id: String, context: DroverRequestContext) throws -> WebhookRecord {
        try requireUser(context)
        guard let hook = visibleWebhooks(context).first(where: { $0.id == id }) else {
            throw APIError.notFound("webhook \(id) does not exist; `drover webhook list` lists them")
        }
        return hook
    }
}
