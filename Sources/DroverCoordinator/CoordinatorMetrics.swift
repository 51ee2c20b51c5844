import DroverCore
import Prometheus
import Synchronization

/// One coordinator's metrics: a registry of its own (so several coordinators in one process,
/// as tests run them, never share or overwrite series), the counters and histograms recorded
/// where things happen, and the gauges refreshed from live state on each scrape.
///
/// Hummingbird's HTTP metrics go through swift-metrics' global `MetricsSystem`; the `drover`
/// executable bootstraps it once with ``HTTPMetricNames/factory(registry:)`` over this same
/// registry, so they appear on the same page.
public final class CoordinatorMetrics: Sendable {
    /// Where every series lives; `/metrics` renders it.
    public let registry: PrometheusCollectorRegistry
    private let counters = Mutex<[CounterKey: Counter]>([:])
    private let admissionWaits = Mutex<[String: DurationHistogram]>([:])
    private let leaseRoundTrips: DurationHistogram
    private let commitDurations: DurationHistogram
    private let commitSizes: ValueHistogram
    /// The gauges last rendered, by family and label values; serializes scrapes too.
    private let gauges = Mutex<[MetricFamily: [[String]: Gauge]]>([:])

    private struct CounterKey: Hashable {
        var family: MetricFamily
        var labels: [String]
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        leaseRoundTrips = registry.makeDurationHistogram(descriptor: MetricFamily.leaseRoundTrip.descriptor, labels: [],
                                                         buckets: Self.fastBuckets)
        commitDurations = registry.makeDurationHistogram(descriptor: MetricFamily.storeCommitDuration.descriptor, labels: [],
                                                         buckets: Self.fastBuckets)
        commitSizes = registry.makeValueHistogram(descriptor: MetricFamily.storeCommitMutations.descriptor, labels: [],
                                                  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000])
        // Registered before the first delivery, so the family is on the page (at 0) from the start.
        for result in WebhookDeliveryResult.allCases { _ = counter(.webhookDeliveries, [result.rawValue]) }
    }

    /// From 0.1 ms to 10 s: commits and lease answers are usually milliseconds.
    private static let fastBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2), .seconds(5), .seconds(10),
    ]

    /// From 1 s to a day: how long jobs wait for their first lease.
    private static let waitBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        .seconds(900), .seconds(1800), .seconds(3600), .seconds(3 * 3600), .seconds(6 * 3600), .seconds(12 * 3600), .seconds(86400),
    ]

    // MARK: - Recorded where they happen

    /// One webhook delivery try ended so: the webhook sender calls this once per try.
    public func webhookDelivered(result: WebhookDeliveryResult) {
        counter(.webhookDeliveries, [result.rawValue]).increment()
    }

    /// What a durable transition did (``MetricFacts``).
    func record(_ facts: MetricFacts) {
        guard !facts.isEmpty else { return }
        for ended in facts.ended { counter(.attempts, [ended.team, ended.outcome.rawValue]).increment() }
        for team in facts.leased { counter(.leases, [team]).increment() }
        for booked in facts.booked { counter(.costBooked, [booked.team]).increment(by: Double(booked.micros) / 1_000_000) }
        for admitted in facts.admitted { admissionWait(team: admitted.team).record(.milliseconds(admitted.waitMilliseconds)) }
    }

    /// A poll or report answered leases, this long after its lease decision began.
    func leaseAnswered(after duration: Duration) {
        leaseRoundTrips.record(duration)
    }

    /// The journal committed `mutations` rows in one transaction taking `duration`.
    func committed(mutations: Int, in duration: Duration) {
        commitDurations.record(duration)
        commitSizes.record(Double(mutations))
    }

    private func counter(_ family: MetricFamily, _ labels: [String]) -> Counter {
        let key = CounterKey(family: family, labels: labels)
        return counters.withLock { counters in
            if let known = counters[key] { return known }
            let made = registry.makeCounter(descriptor: family.descriptor, labels: Array(zip(family.labels, labels)))
            counters[key] = made
            return made
        }
    }

    private func admissionWait(team: String) -> DurationHistogram {
        admissionWaits.withLock { histograms in
            if let known = histograms[team] { return known }
            let made = registry.makeDurationHistogram(descriptor: MetricFamily.admissionWait.descriptor, labels: [("team", team)],
                                                      buckets: Self.waitBuckets)
            histograms[team] = made
            return made
        }
    }

    // MARK: - Rendered on scrape

    /// The page in Prometheus text format, with the gauges set from `snapshot`: series that
    /// vanished from live state (a team's last job of a state gone) are removed, not left stale.
    func render(_ snapshot: MetricsSnapshot) -> [UInt8] {
        gauges.withLock { gauges in
            for family in MetricFamily.allCases where family.kind == .gauge {
                let wanted = snapshot[family]
                var current = gauges[family] ?? [:]
                for (labels, gauge) in current where wanted[labels] == nil {
                    registry.unregisterGauge(gauge)
                    current[labels] = nil
                }
                for (labels, value) in wanted {
                    let gauge = current[labels] ?? registry.makeGauge(descriptor: family.descriptor, labels: Array(zip(family.labels, labels)))
                    gauge.set(value)
                    current[labels] = gauge
                }
                gauges[family] = current
            }
            return registry.emitToBuffer()
        }
    }
}

extension MetricFamily {
    var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(metricName: rawValue, unitName: "", helpText: help)
    }
}
