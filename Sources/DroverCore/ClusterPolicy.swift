/// How the cluster schedules and prices work: configuration, given when the state is built
/// (not persisted). Only the rate card changes afterwards, through ``ClusterState/applyRateCard(_:by:now:)``.
public struct ClusterPolicy: Sendable {
    /// The quota of teams without their own.
    public var defaultQuota: Quota
    /// Currency code of every price and amount.
    public var currency: String
    /// A team's first job in line that has had no lease for this long gets a node reserved;
    /// nil turns reservations off.
    public var reserveAfterMilliseconds: Int64?
    /// How a task picks between nodes that could both take it.
    public var placement: PlacementStrategy
    /// Label-keyed rates that override what agents declare.
    public var rateCard: RateCard

    /// The defaults: no quota, USD, reservations after 5 minutes, pack placement, no rate card.
    public init(defaultQuota: Quota = .unlimited, currency: String = "USD", reserveAfterMilliseconds: Int64? = 300_000,
                placement: PlacementStrategy = .pack, rateCard: RateCard = RateCard()) {
        self.defaultQuota = defaultQuota
        self.currency = currency
        self.reserveAfterMilliseconds = reserveAfterMilliseconds
        self.placement = placement
        self.rateCard = rateCard
    }
}
