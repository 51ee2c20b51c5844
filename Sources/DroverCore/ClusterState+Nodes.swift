extension ClusterState {
    // MARK: - Registration

    /// Registers an agent, or takes over the node of the same name (an agent restarting).
    /// A takeover revokes the old token and declares the old instance's attempts lost.
    public mutating func register(
        name: String, capacity: Resources, gpuIndices: [Int], labels: [String: String], prices: Prices, taskIsolation: TaskIsolation = .shared,
        tokenHash: String, now: Timestamp, random: inout some RandomNumberGenerator
    ) -> Transition<NodeRecord> {
        var mutations: [Mutation] = []
        if let existing = pool.node(named: name) {
            let id = existing.record.id
            for attemptID in existing.active.sorted() {
                endAttempt(attemptID, outcome: .lost, report: nil, reason: "node \(name) re-registered; the previous agent's attempts are lost",
                           actor: "node/\(id)", now: now, random: &random, into: &mutations)
            }
            var record = existing.record
            let old = record.state
            record.capacity = capacity
            record.gpuIndices = gpuIndices
            record.labels = labels
            record.taskIsolation = taskIsolation
            record.declaredPrices = prices
            record.prices = policy.rateCard.prices(for: labels, declared: prices)
            credentials.bind(nodeTokenHash: record.tokenHash, to: nil)
            credentials.bind(nodeTokenHash: tokenHash, to: id)
            record.tokenHash = tokenHash
            // A cordon or drain set by an admin survives an agent restart.
            if record.state == .down { record.state = .ready }
            pool.put(record, now: now)
            mutations.append(.putNode(record))
            mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: record.state.rawValue,
                                                reason: "agent re-registered with \(capacity)", actor: "node/\(id)")))
            return Transition(record, mutations: mutations, effects: Effects(wake: WakeRule.everyPoll))
        }
        var record = NodeRecord(id: NodeID(pool.lastNodeID + 1), name: name, capacity: capacity, gpuIndices: gpuIndices, labels: labels,
                                prices: policy.rateCard.prices(for: labels, declared: prices), registeredAt: now, tokenHash: tokenHash)
        record.declaredPrices = prices
        record.taskIsolation = taskIsolation
        pool.put(record, now: now)
        credentials.bind(nodeTokenHash: tokenHash, to: record.id)
        mutations.append(.putNode(record))
        mutations.append(.appendEvent(Event(subject: "node/\(record.id)", job: nil, at: now, from: nil, to: NodeState.ready.rawValue,
                                            reason: "registered with \(capacity)", actor: "node/\(record.id)")))
        return Transition(record, mutations: mutations, effects: Effects(wake: WakeRule.everyPoll))
    }

    // MARK: - Liveness

    /// Records that the agent of `node` is alive and which attempts it holds.
    ///
    /// Returns the attempts it reported that the coordinator no longer considers its own (the
    /// agent must kill them), and those of its attempts to cancel. Attempts the coordinator
    /// leased to the node more than `orphanAfterMilliseconds` ago that the agent does not hold
    /// are lost: the answer carrying their lease never reached it (the coordinator died
    /// after committing the lease, or the connection broke).
    public mutating func heartbeat(node: NodeID, attempts: [AttemptID: String?], now: Timestamp, orphanAfterMilliseconds: Int64,
                                   random: inout some RandomNumberGenerator)
        -> Transition<(unknown: [AttemptID], cancel: [AttemptID])> {
        guard pool.nodes[node] != nil else { return Transition((attempts.keys.sorted(), [])) }
        var mutations = touch(node: node, now: now).mutations
        var unknown: [AttemptID] = []
        for (id, progress) in attempts {
            guard pool.activeAttempts[id]?.node == node else {
                unknown.append(id)
                continue
            }
            if let progress { pool.activeAttempts[id]!.progress = progress }
        }
        let name = pool.nodes[node]!.record.name
        for id in pool.nodes[node]!.active.sorted() where attempts[id] == nil {
            // The agent can hold a lease only once its answer was sent (a commit may wait on the
            // disk for long), and heartbeats sent while the coordinator itself stalled could not
            // list one still unsent: an attempt is judged from the later of the two.
            guard let answered = pool.answeredAt[id],
                  now.milliseconds(since: max(answered, pool.lastStallEndedAt)) > orphanAfterMilliseconds else { continue }
            endAttempt(id, outcome: .lost, report: nil, reason: "agent \(name) does not hold this attempt: its lease never reached the agent",
                       actor: "coordinator", now: now, random: &random, into: &mutations)
        }
        return Transition((unknown.sorted(), attemptsToCancel(on: node)), mutations: mutations,
                          effects: Effects(wake: WakeRule.afterHeartbeat(changed: !mutations.isEmpty)))
    }

    /// Notes that a node was heard from (any authenticated request counts). A node declared
    /// down comes back as ready: its old attempts were already lost and requeued. Wakes no
    /// poll: the capacity that came back is the node's own, and its agent is the one asking.
    @discardableResult
    public mutating func touch(node: NodeID, now: Timestamp) -> Transition<Void> {
        guard pool.nodes[node] != nil else { return Transition() }
        pool.nodes[node]!.lastSeen = now
        guard pool.nodes[node]!.record.state == .down else { return Transition() }
        pool.update(node) { $0.state = .ready }
        let record = pool.nodes[node]!.record
        return Transition(mutations: [
            .putNode(record),
            .appendEvent(Event(subject: "node/\(node)", job: nil, at: now, from: NodeState.down.rawValue, to: NodeState.ready.rawValue,
                               reason: "agent reconnected", actor: "node/\(node)"))])
    }

    /// Notes that the answer carrying the leases of `ids` was durable and sent at `now`: from
    /// then their agent's heartbeats are expected to list them.
    public mutating func noteLeasesAnswered(_ ids: some Sequence<AttemptID>, now: Timestamp) {
        pool.noteAnswered(ids, now: now)
    }

    /// Gives every node `milliseconds` more before it can be declared down, and every attempt a
    /// full orphan age from `now` to appear in its agent's heartbeats: the coordinator itself
    /// was stalled that long, so silence in that time proves nothing about the nodes.
    public mutating func forgiveSilence(milliseconds: Int64, now: Timestamp) {
        pool.forgiveSilence(milliseconds: milliseconds, now: now)
    }

    /// Declares down every node silent for longer than `ttlMilliseconds`; their attempts are lost.
    public mutating func expireSilentNodes(now: Timestamp, ttlMilliseconds: Int64, random: inout some RandomNumberGenerator) -> Transition<Void> {
        var mutations: [Mutation] = []
        for id in pool.silentNodes(now: now, ttlMilliseconds: ttlMilliseconds) {
            let node = pool.nodes[id]!
            let silence = Quantity.formatDuration(now.milliseconds(since: node.lastSeen))
            for attemptID in node.active.sorted() {
                endAttempt(attemptID, outcome: .lost, report: nil, reason: "node \(node.record.name) silent for \(silence)",
                           actor: "coordinator", now: now, random: &random, into: &mutations)
            }
            let old = node.record.state
            pool.update(id) { $0.state = .down }
            mutations.append(.putNode(pool.nodes[id]!.record))
            mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: NodeState.down.rawValue,
                                                reason: "no heartbeat for \(silence) (TTL \(Quantity.formatDuration(ttlMilliseconds)))", actor: "coordinator")))
        }
        return Transition(mutations: mutations, effects: Effects(wake: mutations.isEmpty ? .none : WakeRule.everyPoll))
    }

    /// The reason a node is down after its agent said it leaves (a graceful shutdown).
    public static let leftReason = "left"

    /// An agent that stops gracefully says it leaves: its node is down at once rather than
    /// after the TTL, and attempts of it still active (their reports did not arrive) are lost
    /// and requeued now. Its token no longer works, so a request still in flight cannot bring
    /// the node back; the agent registers again with the join token when it restarts.
    public mutating func leave(node id: NodeID, now: Timestamp, random: inout some RandomNumberGenerator) -> Transition<Void> {
        guard let node = pool.nodes[id] else { return Transition() }
        var mutations: [Mutation] = []
        for attemptID in node.active.sorted() {
            endAttempt(attemptID, outcome: .lost, report: nil, reason: "node \(node.record.name) left before reporting this attempt",
                       actor: "node/\(id)", now: now, random: &random, into: &mutations)
        }
        credentials.bind(nodeTokenHash: node.record.tokenHash, to: nil)
        pool.stopWaiting(id)
        pool.update(id) { record in
            record.tokenHash = "left"
            record.state = .down
            record.drainDeadline = nil
        }
        mutations.append(.putNode(pool.nodes[id]!.record))
        mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: node.record.state.rawValue, to: NodeState.down.rawValue,
                                            reason: Self.leftReason, actor: "node/\(id)")))
        return Transition(mutations: mutations, effects: Effects(wake: WakeRule.everyPoll))
    }

    // MARK: - Administration

    /// Changes a node's administrative state (cordon, drain, uncordon).
    /// With `drainDeadline`, a drain requeues what still runs on the node at that instant
    /// (as preempted: no failure budget used).
    public mutating func setNodeState(_ id: NodeID, to state: NodeState, by actor: String, now: Timestamp,
                                      drainDeadline: Timestamp? = nil) throws(ClusterError) -> Transition<Void> {
        guard let node = pool.nodes[id] else { throw .nodeNotFound(id.description) }
        let old = node.record.state
        if old == .down && state != .down { throw .conflict("node \(node.record.name) is down; it becomes ready when its agent registers again") }
        let deadline = state == .draining ? drainDeadline : nil
        // An administrator's request wakes every poll even when it changes nothing (as it always has).
        guard old != state || node.record.drainDeadline != deadline else { return Transition(effects: Effects(wake: WakeRule.everyPoll)) }
        pool.update(id) { record in
            record.state = state
            record.drainDeadline = deadline
        }
        return Transition(mutations: [
            .putNode(pool.nodes[id]!.record),
            .appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: state.rawValue,
                               reason: "set by \(actor)" + (deadline.map { "; what still runs at \($0.milliseconds) ms is requeued" } ?? ""), actor: actor))],
            effects: Effects(wake: WakeRule.everyPoll))
    }

    /// Requeues what still runs on draining nodes whose deadline has passed, as preempted.
    public mutating func enforceDrainDeadlines(now: Timestamp, random: inout some RandomNumberGenerator) -> Transition<Void> {
        var mutations: [Mutation] = []
        for id in pool.nodes.keys.filter({ pool.nodes[$0]!.record.state == .draining }).sorted() {
            let node = pool.nodes[id]!
            guard node.record.state == .draining, let deadline = node.record.drainDeadline, deadline <= now, !node.active.isEmpty else { continue }
            for attemptID in node.active.sorted() {
                endAttempt(attemptID, outcome: .preempted, report: nil, reason: "node \(node.record.name) drained: its deadline passed",
                           actor: "coordinator", now: now, random: &random, into: &mutations)
            }
        }
        return Transition(mutations: mutations, effects: Effects(wake: mutations.isEmpty ? .none : WakeRule.everyPoll))
    }
}
