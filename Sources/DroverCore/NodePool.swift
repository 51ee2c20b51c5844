/// The nodes and what runs on them: capacity, the capacity of nodes that take leases, free
/// GPUs, the attempts that hold a lease, reservations for starving jobs, the nodes waiting in a
/// long poll, and when each node was last heard from.
public struct NodePool: Sendable {
    public internal(set) var nodes: [NodeID: ClusterState.NodeRuntime] = [:]
    /// Attempts that hold a lease right now.
    public internal(set) var activeAttempts: [AttemptID: AttemptRecord] = [:]
    /// Capacity of the nodes that take leases, kept up to date as nodes change state.
    public private(set) var readyCapacity: Resources = .zero
    /// Nodes held for a starving job: they lease that job only until one of its tasks fits.
    public internal(set) var reservations: [NodeID: JobID] = [:]
    /// Nodes whose agents wait in a long poll for work right now (not persisted): the other
    /// homes a lease weighs against the node that asks.
    public private(set) var waitingNodes: Set<NodeID> = []
    public internal(set) var lastNodeID: Int64 = 0
    public internal(set) var lastAttemptID: Int64 = 0
    /// When the coordinator last came back from a stall of its own (not persisted): attempts
    /// leased before it get a full orphan age from then to appear in their agent's heartbeats.
    public private(set) var lastStallEndedAt = Timestamp(milliseconds: 0)
    /// When the answer carrying each active attempt's lease was durable and sent (not persisted;
    /// after a restart, the restart). An attempt's agent can only be expected to hold it from
    /// then: the orphan check never counts the time a commit spent waiting on the disk.
    public private(set) var answeredAt: [AttemptID: Timestamp] = [:]

    init() {}

    /// Adds or replaces a node with nothing allocated; `lastSeen` is `now`.
    mutating func put(_ record: NodeRecord, now: Timestamp) {
        nodes[record.id] = ClusterState.NodeRuntime(record: record, freeGPUs: record.gpuIndices.sorted(), lastSeen: now)
        lastNodeID = max(lastNodeID, record.id.rawValue)
        refreshReadyCapacity()
    }

    /// Changes a node's record (state, rates, token) and keeps ``readyCapacity`` in step.
    mutating func update(_ id: NodeID, _ change: (inout NodeRecord) -> Void) {
        guard nodes[id] != nil else { return }
        change(&nodes[id]!.record)
        refreshReadyCapacity()
    }

    /// A new attempt id.
    mutating func nextAttemptID() -> AttemptID {
        lastAttemptID += 1
        return AttemptID(lastAttemptID)
    }

    /// Makes `attempt` active and takes what it holds from its node.
    mutating func hold(_ attempt: AttemptRecord) {
        activeAttempts[attempt.id] = attempt
        guard var node = nodes.removeValue(forKey: attempt.node) else { return }
        node.allocated = node.allocated + attempt.allocation
        node.freeGPUs.removeAll { attempt.gpuIndices.contains($0) }
        node.active.insert(attempt.id)
        nodes[attempt.node] = node
    }

    /// Ends `id`'s lease: returns its record and gives what it held back to its node.
    mutating func release(_ id: AttemptID) -> AttemptRecord? {
        guard let attempt = activeAttempts.removeValue(forKey: id) else { return nil }
        answeredAt[id] = nil
        if var node = nodes.removeValue(forKey: attempt.node) {
            node.allocated = node.allocated - attempt.allocation
            node.freeGPUs = (node.freeGPUs + attempt.gpuIndices).sorted()
            node.active.remove(id)
            nodes[attempt.node] = node
        }
        return attempt
    }

    /// Notes that the leases of `ids` were answered to their agents at `now`.
    mutating func noteAnswered(_ ids: some Sequence<AttemptID>, now: Timestamp) {
        for id in ids where activeAttempts[id] != nil { answeredAt[id] = now }
    }

    /// The node registered under `name`, if any.
    func node(named name: String) -> ClusterState.NodeRuntime? {
        nodes.values.first { $0.record.name == name }
    }

    // MARK: - Liveness and waiting

    /// Nodes not down whose agents have been silent for longer than `ttlMilliseconds`, by id.
    func silentNodes(now: Timestamp, ttlMilliseconds: Int64) -> [NodeID] {
        nodes.values.filter { $0.record.state != .down && now.milliseconds(since: $0.lastSeen) > ttlMilliseconds }.map(\.record.id).sorted()
    }

    /// Gives every node `milliseconds` more before it can be declared down.
    mutating func forgiveSilence(milliseconds: Int64, now: Timestamp) {
        lastStallEndedAt = now
        for id in nodes.keys { nodes[id]!.lastSeen = nodes[id]!.lastSeen.adding(milliseconds: milliseconds) }
    }

    /// Marks `node`'s agent as waiting in a long poll for work (if it takes leases).
    mutating func noteWaiting(_ node: NodeID) {
        if nodes[node]?.record.state.acceptsLeases == true { waitingNodes.insert(node) }
    }

    /// Clears the waiting mark of `node`; returns whether it was set.
    @discardableResult
    mutating func stopWaiting(_ node: NodeID) -> Bool {
        waitingNodes.remove(node) != nil
    }

    /// Recomputes ``readyCapacity``; called whenever a node's state or capacity changes (rare),
    /// so that leasing does not sum over every node each time.
    mutating func refreshReadyCapacity() {
        readyCapacity = nodes.values.filter { $0.record.state.acceptsLeases }.reduce(Resources.zero) { $0 + $1.record.capacity }
    }
}

extension ClusterState {
    /// A node and what it holds.
    public struct NodeRuntime: Sendable {
        public internal(set) var record: NodeRecord
        public internal(set) var allocated: Resources = .zero
        public internal(set) var freeGPUs: [Int]
        public internal(set) var active: Set<AttemptID> = []
        /// Last time the agent was heard from. Not persisted: after a restart every node
        /// gets a full TTL from the moment the coordinator came back.
        public internal(set) var lastSeen: Timestamp
        /// What is not allocated.
        public var free: Resources { record.capacity - allocated }
        /// The node as placement sees it.
        public var placementCandidate: PlacementCandidate {
            PlacementCandidate(node: record.id, capacity: record.capacity, free: free, labels: record.labels, prices: record.prices)
        }
    }
}
