/// Where tasks go when more than one node could take them (configuration).
public enum PlacementStrategy: String, Sendable, CaseIterable, Codable {
    /// Best fit: the node left with the least free after the task, so that partly used nodes
    /// fill up first and whole nodes stay free for big training jobs. The default.
    case pack
    /// Worst fit: the node left with the most free, so that tasks share nodes as little as
    /// possible (fewer neighbours, less lost when one node dies).
    case spread
    /// Lowest price: the node whose rates make the task cheapest per hour; among nodes equally
    /// cheap, pack.
    case cheapest
}

/// A node as placement sees it: what it has, what is free, its rates, and what it is called.
public struct PlacementCandidate: Sendable, Equatable {
    public var node: NodeID
    public var capacity: Resources
    public var free: Resources
    public var labels: [String: String]
    public var prices: Prices

    public init(node: NodeID, capacity: Resources, free: Resources, labels: [String: String], prices: Prices = Prices()) {
        self.node = node
        self.capacity = capacity
        self.free = free
        self.labels = labels
        self.prices = prices
    }
}

/// The placement rule: which of several nodes a task should go to. Pure.
public enum Placement {
    /// Whether a task needing `resources` with `constraints` can go on `candidate` now.
    public static func fits(_ resources: Resources, constraints: [Constraint], on candidate: PlacementCandidate) -> Bool {
        resources.fits(in: candidate.free) && constraints.allSatisfy { $0.matches(candidate.labels) }
    }

    /// The share of `candidate`'s capacity still free after placing `resources` on it: the mean
    /// over the resources the node has of free ÷ capacity, from 0 (full) to 1 (untouched).
    /// A resource the node lacks does not count; one it has but the task does not use does,
    /// so a CPU task left on a GPU node keeps that node looking empty and pack avoids it.
    public static func freeShareAfter(placing resources: Resources, on candidate: PlacementCandidate) -> Double {
        var sum = 0.0
        var count = 0.0
        func add(_ free: Int64, _ capacity: Int64) {
            guard capacity > 0 else { return }
            sum += Double(free) / Double(capacity)
            count += 1
        }
        let after = candidate.free - resources
        add(after.millicores, candidate.capacity.millicores)
        add(after.memoryBytes, candidate.capacity.memoryBytes)
        add(Int64(after.gpus), Int64(candidate.capacity.gpus))
        return count == 0 ? 0 : sum / count
    }

    /// What an hour of `resources` costs on `candidate`, in micro-units: what cheapest compares.
    public static func hourlyCost(of resources: Resources, on candidate: PlacementCandidate) -> Int64 {
        candidate.prices.cost(of: resources, milliseconds: 3_600_000)
    }

    /// Whether `a` is a better home than `b` for `resources` under `strategy`; ties go to the
    /// lower node id, so every node that asks reaches the same answer.
    public static func isBetter(_ a: PlacementCandidate, than b: PlacementCandidate, for resources: Resources,
                                strategy: PlacementStrategy) -> Bool {
        if strategy == .cheapest {
            let costA = hourlyCost(of: resources, on: a)
            let costB = hourlyCost(of: resources, on: b)
            if costA != costB { return costA < costB }
        }
        let shareA = freeShareAfter(placing: resources, on: a)
        let shareB = freeShareAfter(placing: resources, on: b)
        if shareA != shareB { return strategy == .spread ? shareA > shareB : shareA < shareB }
        return a.node.rawValue < b.node.rawValue
    }

    /// The best of `candidates` for a task needing `resources` with `constraints`, or nil if
    /// none can take it now.
    public static func choose(_ resources: Resources, constraints: [Constraint], among candidates: some Sequence<PlacementCandidate>,
                              strategy: PlacementStrategy) -> PlacementCandidate? {
        var best: PlacementCandidate?
        for candidate in candidates where fits(resources, constraints: constraints, on: candidate) {
            if let current = best, !isBetter(candidate, than: current, for: resources, strategy: strategy) { continue }
            best = candidate
        }
        return best
    }

    /// `count` GPU indices out of `free` (kept sorted): the lowest ones, so that a node's
    /// remaining GPUs stay together at the top.
    public static func gpuIndices(_ count: Int, from free: [Int]) -> [Int] {
        Array(free.prefix(count))
    }
}
