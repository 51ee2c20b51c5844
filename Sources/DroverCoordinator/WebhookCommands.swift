import DroverAPI
import DroverCore
import DroverStore
import Foundation

// Webhook registrations and the outbox's changes, each through `mutate` like every change.
extension Cluster {
    /// Registers a hook; answers it and the secret when one was made here. The secret is kept sealed.
    func addWebhook(url: String, events: [String], team: String?, secret given: String?, by actor: String) async throws -> (WebhookRecord, String?) {
        let secret = given ?? WebhookSignature.generateSecret()
        let id = "wh-" + WebhookHub.randomHex(6)
        let record = WebhookRecord(id: id, url: url, events: events, team: team, sealedSecret: try secrets.seal(secret, name: Self.secretName(id)),
                                   createdAt: clock.now(), createdBy: actor)
        try await mutate { _, _ throws(ClusterError) in
            webhooks.put(record)
            return Transition(mutations: [.putWebhook(record)])
        }
        logger.info("webhook added", metadata: ["webhook.id": "\(id)", "webhook.events": "\(events.joined(separator: ","))"])
        return (record, given == nil ? secret : nil)
    }

    func removeWebhook(_ id: String) async throws {
        try await mutate { _, _ throws(ClusterError) in
            webhooks.remove(id)
            return Transition(mutations: [.removeWebhook(id: id)])
        }
    }

    /// Queues a delivery again (its id, hence `webhook-id`, stays), due now.
    func redeliver(_ delivery: DeliveryRecord) async throws -> DeliveryRecord {
        var again = delivery
        (again.state, again.nextTry) = (.pending, clock.now())
        try await mutate { _, _ throws(ClusterError) in Transition(mutations: [.putDelivery(again)]) }
        webhooks.deliveries.wakeAll()
        return again
    }

    /// Records one try and what it made of the delivery, durably.
    func recordTry(_ attempt: DeliveryTry, settled: DeliveryRecord) async throws {
        try await mutate { _, _ throws(ClusterError) in Transition(mutations: [.appendDeliveryTry(attempt), .putDelivery(settled)]) }
    }

    /// The name a hook's secret is sealed under: a sealed secret moved to another hook does not open.
    static func secretName(_ webhook: String) -> String { "webhook/\(webhook)" }

    static func view(of hook: WebhookRecord) -> WebhookView {
        WebhookView(id: hook.id, url: hook.url, events: hook.events, team: hook.team,
                    createdAt: WireTime.format(milliseconds: hook.createdAt.milliseconds), createdBy: hook.createdBy)
    }

    static func view(of delivery: DeliveryRecord, tries: [DeliveryTry]) -> DeliveryView {
        DeliveryView(id: delivery.id, webhook: delivery.webhook, type: delivery.type, state: delivery.state.rawValue,
                     createdAt: WireTime.format(milliseconds: delivery.createdAt.milliseconds), tries: delivery.tries,
                     nextTry: delivery.nextTry.map { WireTime.format(milliseconds: $0.milliseconds) }, lastStatus: delivery.lastStatus,
                     lastError: delivery.lastError, log: tries.map { t in
                         DeliveryTryView(number: t.number, at: WireTime.format(milliseconds: t.at.milliseconds), status: t.status, error: t.error,
                                         durationMs: t.durationMilliseconds)
                     })
    }

    /// An audit event as the stream shows it: `<kind>.<new state>` (spaces as `_`).
    static func view(of stored: StoredEvent) -> StreamEventView {
        let event = stored.event
        let kind = event.subject.split(separator: "/").first.map(String.init) ?? event.subject
        let to = event.to.lowercased().replacingOccurrences(of: " ", with: "_")
        return StreamEventView(id: stored.id, type: "\(kind).\(to)", timestamp: WireTime.format(milliseconds: event.at.milliseconds),
                               data: StreamEventData(subject: event.subject, job: event.job?.description, from: event.from, to: event.to,
                                                     reason: event.reason, actor: event.actor))
    }
}
