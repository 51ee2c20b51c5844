import DroverAPI
import DroverCore
import Foundation
import Synchronization

/// The registered webhooks, the outbox rows a transition queues for them, and the signals
/// that wake the dispatcher and the followers of the event stream once a commit is durable.
///
/// ``outbox(for:in:now:)`` runs under the cluster lock inside ``Cluster/mutate(_:)``: its rows
/// go into the same journal batch, hence the same store transaction, as the change that caused
/// the events. With no webhook registered it costs one lock and an empty check.
final class WebhookHub: Sendable {
    private let hooks: Mutex<[String: WebhookRecord]>
    /// Woken when deliveries were committed or a try ended (the dispatcher waits on it).
    let deliveries: Wakeups
    /// Woken after every durable commit (followers of `GET /v1/events?follow=true` wait on it).
    let events: Wakeups
    /// The one "node" the two signals are waited on under.
    static let channel = NodeID(1)

    init(hooks: [WebhookRecord], clock: any MonotonicClock) {
        self.hooks = Mutex(Dictionary(uniqueKeysWithValues: hooks.map { ($0.id, $0) }))
        deliveries = Wakeups(clock: clock)
        events = Wakeups(clock: clock)
    }

    func replaceAll(_ records: [WebhookRecord]) {
        hooks.withLock { $0 = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) }) }
    }

    func put(_ record: WebhookRecord) { hooks.withLock { $0[record.id] = record } }
    func remove(_ id: String) { hooks.withLock { $0[id] = nil } }
    func hook(_ id: String) -> WebhookRecord? { hooks.withLock { $0[id] } }
    var all: [WebhookRecord] { hooks.withLock { $0.values.sorted { $0.createdAt == $1.createdAt ? $0.id < $1.id : $0.createdAt < $1.createdAt } } }

    /// The deliveries to queue for the events among `mutations`, one per event and matching
    /// hook, each with the body it will carry on every try. Call under the cluster lock.
    func outbox(for mutations: [Mutation], in state: borrowing ClusterState, now: Timestamp) -> [Mutation] {
        let registered = hooks.withLock { $0.isEmpty ? [] : Array($0.values) }
        guard !registered.isEmpty else { return [] }
        var queued: [Mutation] = []
        for occurrence in WebhookOccurrence.found(in: mutations) {
            let team = Self.team(of: occurrence.subject, in: state)
            let matching = registered.filter { hook in
                occurrence.type.isAsked(by: hook.events) && (hook.team == nil || hook.team == team)
            }
            guard !matching.isEmpty else { continue }
            let payload = Self.body(of: occurrence, in: state, now: now)
            for hook in matching {
                queued.append(.putDelivery(DeliveryRecord(id: Self.newDeliveryID(), webhook: hook.id, type: occurrence.type.rawValue,
                                                          payload: payload, createdAt: now, nextTry: now)))
            }
        }
        return queued
    }

    static func team(of subject: WebhookOccurrence.Subject, in state: borrowing ClusterState) -> String? {
        switch subject {
        case .job(let id): state.jobs[id]?.record.spec.team
        case .attempt(let attempt): state.jobs[attempt.task.job]?.record.spec.team
        case .alert(let alert): alert.team
        case .node: nil
        }
    }

    /// The body: data is the job, attempt, node or alert as the API shows it.
    static func body(of occurrence: WebhookOccurrence, in state: borrowing ClusterState, now: Timestamp) -> String {
        switch occurrence.subject {
        case .job(let id):
            guard let job = state.jobs[id] else { return WebhookBody.encoded(type: occurrence.type, at: occurrence.at, data: ["id": id.description], id: id.description) }
            return WebhookBody.encoded(type: occurrence.type, at: occurrence.at, data: Cluster.view(of: job, in: state, now: now), id: id.description)
        case .attempt(let attempt):
            var view = Cluster.view(of: attempt, nodeName: state.nodes[attempt.node]?.record.name ?? attempt.node.description)
            view.job = attempt.task.job.description
            return WebhookBody.encoded(type: occurrence.type, at: occurrence.at, data: view, id: attempt.id.description)
        case .node(let id):
            guard let node = state.nodes[id] else { return WebhookBody.encoded(type: occurrence.type, at: occurrence.at, data: ["id": id.description], id: id.description) }
            return WebhookBody.encoded(type: occurrence.type, at: occurrence.at, data: Cluster.view(of: node), id: id.description)
        case .alert(let alert):
            return WebhookBody.encoded(type: occurrence.type, at: occurrence.at, data: Cluster.view(of: alert), id: alert.team)
        }
    }

    /// `msg_` and 24 random hex digits: the delivery's `webhook-id`.
    static func newDeliveryID() -> String { "msg_" + randomHex(12) }

    static func randomHex(_ bytes: Int) -> String {
        var random = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &random)) }.joined()
    }
}
