/// What an operation did: the value it answers with, the ``Mutation``s that make the change
/// durable (in order), and the ``Effects`` the shell runs once they are.
public struct Transition<Value> {
    /// What the operation answers with.
    public var value: Value
    /// What to persist, in order, before anyone hears of the change.
    public var mutations: [Mutation]
    /// What to do once the mutations are durable.
    public var effects: Effects

    /// A transition with `value`, what to persist and what to do.
    public init(_ value: Value, mutations: [Mutation] = [], effects: Effects = Effects()) {
        self.value = value
        self.mutations = mutations
        self.effects = effects
    }

    /// Appends another transition's mutations and effects to this one; returns its value.
    public mutating func absorb<Other>(_ other: Transition<Other>) -> Other {
        if mutations.isEmpty { mutations = other.mutations } else { mutations += other.mutations }
        effects.formUnion(other.effects)
        return other.value
    }

    /// The same transition answering `transform(value)`.
    public func map<Other>(_ transform: (Value) -> Other) -> Transition<Other> {
        Transition<Other>(transform(value), mutations: mutations, effects: effects)
    }
}

extension Transition: Sendable where Value: Sendable {}

extension Transition where Value == Void {
    /// A transition that answers nothing.
    public init(mutations: [Mutation] = [], effects: Effects = Effects()) {
        self.init((), mutations: mutations, effects: effects)
    }
}

/// What the shell does once a transition's mutations are durable. Empty (the common case of a
/// lease or report that helps no one else) costs nothing: no collection here allocates until used.
public struct Effects: Hashable, Sendable {
    /// Long polls to wake because there may be work for them.
    public var wake: Wake
    /// Attempts their agents must stop, by node: those nodes' polls are woken to say so.
    public var cancels: [NodeID: [AttemptID]]
    /// Waiting nodes a lease passed work to, as a better home: their polls are woken to take it.
    public var handoffs: Set<NodeID>

    /// Effects with these parts; none by default.
    public init(wake: Wake = .none, cancels: [NodeID: [AttemptID]] = [:], handoffs: Set<NodeID> = []) {
        self.wake = wake
        self.cancels = cancels
        self.handoffs = handoffs
    }

    /// Whether there is nothing to do.
    public var isEmpty: Bool { wake == .none && cancels.isEmpty && handoffs.isEmpty }

    /// Adds what `other` asks for.
    public mutating func formUnion(_ other: Effects) {
        guard !other.isEmpty else { return }
        wake.formUnion(other.wake)
        for (node, attempts) in other.cancels { cancels[node, default: []] += attempts }
        handoffs.formUnion(other.handoffs)
    }

    /// Every poll these effects wake (``WakeRule/polls(for:)``).
    public var polls: Wake { WakeRule.polls(for: self) }
}

/// Which long polls to wake.
public enum Wake: Hashable, Sendable {
    case none
    /// The polls of these nodes.
    case nodes(Set<NodeID>)
    /// Every poll.
    case all

    /// Wakes what either wakes.
    public mutating func formUnion(_ other: Wake) {
        switch (self, other) {
        case (.all, _), (_, .none): return
        case (_, .all), (.none, _): self = other
        case (.nodes(let mine), .nodes(let theirs)): self = .nodes(mine.union(theirs))
        }
    }
}
