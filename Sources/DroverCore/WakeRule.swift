/// When a change may let a waiting agent lease something, and whose: the rule for waking long
/// polls, pure. Waking too few leaves work queued until a poll times out; waking every poll on
/// every report cost a lease attempt per agent per report (docs/ARCHITECTURE.md).
public enum WakeRule {
    /// Changes that may give any node work: a submission, a registration, a quota change, a
    /// node state change (cordon, drain, uncordon, revocation), nodes declared down, tasks
    /// requeued (an expiry, a drain deadline, a budget hard stop), a heartbeat that changed
    /// something (a node came back or orphaned attempts were requeued).
    public static let everyPoll = Wake.all

    /// After a batch of reports from `node`: every poll when a task was requeued or a team held
    /// back by its quota freed some of it with work queued (``ClusterState/reportsMayHelpOtherNodes(_:)``);
    /// else the node's own poll when something changed (the capacity it freed is there), unless
    /// the request itself took leases with that capacity.
    public static func afterReports(of node: NodeID, changed: Bool, mayHelpOtherNodes: Bool, tookLeases: Bool) -> Wake {
        if mayHelpOtherNodes { return .all }
        return changed && !tookLeases ? .nodes([node]) : .none
    }

    /// After a heartbeat: every poll when it changed anything, else none.
    public static func afterHeartbeat(changed: Bool) -> Wake {
        changed ? .all : .none
    }

    /// Every poll `effects` wake: its `wake`, plus the nodes told to cancel attempts and the
    /// nodes handed work.
    public static func polls(for effects: Effects) -> Wake {
        guard !effects.cancels.isEmpty || !effects.handoffs.isEmpty else { return effects.wake }
        var wake = effects.wake
        wake.formUnion(.nodes(effects.handoffs.union(effects.cancels.keys)))
        return wake
    }
}
