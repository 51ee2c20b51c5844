/// A resource that has a price: CPU cores, GiB of memory, GPUs.
public enum CostResource: String, Hashable, Sendable, CaseIterable {
    case cpu, memory, gpu

    /// How much of this resource `allocation` holds, in its native unit (millicores, bytes, GPUs).
    public func quantity(in allocation: Resources) -> Int64 {
        switch self {
        case .cpu: allocation.millicores
        case .memory: allocation.memoryBytes
        case .gpu: Int64(allocation.gpus)
        }
    }

    /// Native units in one priced unit: 1000 millicores in a core, 2^30 bytes in a GiB, 1 GPU.
    var unitsPerPricedUnit: Int128 {
        switch self {
        case .cpu: 1000
        case .memory: 1 << 30
        case .gpu: 1
        }
    }

    /// What the rate is per: `cpu-hour`, `GiB-hour`, `gpu-hour`.
    public var rateUnit: String {
        switch self {
        case .cpu: "cpu-hour"
        case .memory: "GiB-hour"
        case .gpu: "gpu-hour"
        }
    }
}

extension Prices {
    /// The hourly rate of one unit of `resource`, in micro-units of the currency.
    public func rateMicros(of resource: CostResource) -> Int64 {
        switch resource {
        case .cpu: cpuHourMicros
        case .memory: memoryGiBHourMicros
        case .gpu: gpuHourMicros
        }
    }

    /// Whether every rate is zero (the node is free).
    public var isFree: Bool { cpuHourMicros == 0 && memoryGiBHourMicros == 0 && gpuHourMicros == 0 }
}

/// Exact cost arithmetic. Money is an integer count of micro-units (millionths of the
/// currency unit); every intermediate is an exact `Int128`, and the only rounding is the
/// final one to the nearest micro-unit (halves away from zero).
public enum CostMath {
    /// Cost of holding `quantity` native units of `resource` at `rateMicros` per unit-hour for
    /// `milliseconds`, rounded to the nearest micro-unit.
    public static func micros(_ resource: CostResource, quantity: Int64, rateMicros: Int64, milliseconds: Int64) -> Int64 {
        let numerator = Int128(quantity) * Int128(rateMicros) * Int128(max(0, milliseconds))
        let denominator = resource.unitsPerPricedUnit * 3_600_000
        return Int64(clamping: divideRounded(numerator, denominator))
    }

    static func divideRounded(_ numerator: Int128, _ denominator: Int128) -> Int128 {
        numerator >= 0 ? (numerator + denominator / 2) / denominator : -((-numerator + denominator / 2) / denominator)
    }
}

extension Prices {
    /// Cost of holding `allocation` for `milliseconds` at these rates: the sum over resources of
    /// each one's cost rounded to the micro-unit, which is what the ledger books.
    public func cost(of allocation: Resources, milliseconds: Int64) -> Int64 {
        CostResource.allCases.reduce(0) { total, resource in
            total + CostMath.micros(resource, quantity: resource.quantity(in: allocation), rateMicros: rateMicros(of: resource),
                                    milliseconds: milliseconds)
        }
    }
}

/// Money as text: decimal strings in, micro-units out, and back.
public enum Money {
    /// Parses a non-negative decimal amount (`0.048`, `12`, `1.25`) into micro-units.
    /// Refuses signs, exponents, more than six decimals and amounts above 10^12.
    public static func parseMicros(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        let isDigits = { (part: Substring) in part.allSatisfy { $0.isASCII && $0.isNumber } }
        guard !whole.isEmpty, whole.count <= 12, isDigits(whole), isDigits(fraction), fraction.count <= 6,
              parts.count == 1 || !fraction.isEmpty,
              let units = Int64(whole), let micros = Int64(fraction + String(repeating: "0", count: 6 - fraction.count)) else { return nil }
        return units * 1_000_000 + micros
    }

    /// Formats micro-units with `places` decimals (0...6), rounding halves away from zero: `12.34`.
    public static func format(_ micros: Int64, places: Int = 2) -> String {
        let places = min(max(places, 0), 6)
        var divisor: Int64 = 1
        for _ in 0..<(6 - places) { divisor *= 10 }
        let rounded = Int64(CostMath.divideRounded(Int128(micros), Int128(divisor)))
        let negative = rounded < 0
        let magnitude = rounded.magnitude
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        let whole = magnitude / scale
        var text = (negative ? "-" : "") + String(whole)
        if places > 0 {
            let fraction = String(magnitude % scale)
            text += "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        return text
    }

    /// Micro-units rounded to `maxPlaces` decimals, then trailing zeros dropped down to `minPlaces`:
    /// `format(12_500, minPlaces: 2, maxPlaces: 4)` is `0.0125`, `format(100_000, …)` is `0.10`.
    public static func format(_ micros: Int64, minPlaces: Int, maxPlaces: Int) -> String {
        var text = format(micros, places: maxPlaces)
        while text.hasSuffix("0"), let dot = text.firstIndex(of: "."), text.distance(from: dot, to: text.endIndex) > minPlaces + 1 { text.removeLast() }
        return text
    }

    /// Exact decimal text of micro-units with trailing zeros removed (at least two decimals): `0.0125`.
    public static func exact(_ micros: Int64) -> String { format(micros, minPlaces: 2, maxPlaces: 6) }
}

/// How far an active attempt's cost has been booked to the ledger.
///
/// Within one rate segment (constant prices since `rateSince`) the ledger holds, per resource,
/// exactly the rounded cost from `rateSince` to `bookedUntil`; each booking adds the difference
/// of two such rounded totals. An attempt's rows therefore sum to its exact cost rounded once
/// per resource and rate segment, however many intervals it was booked in.
public struct CostMeter: Hashable, Sendable, Codable {
    /// Rates in force since `rateSince`.
    public var prices: Prices
    public var rateSinceMilliseconds: Int64
    public var bookedUntilMilliseconds: Int64
    /// Micro-units booked since `rateSince`, per resource in `CostResource.allCases` order.
    public var bookedInSegment: [Int64]

    public init(prices: Prices, since start: Timestamp) {
        self.prices = prices
        rateSinceMilliseconds = start.milliseconds
        bookedUntilMilliseconds = start.milliseconds
        bookedInSegment = Array(repeating: 0, count: CostResource.allCases.count)
    }

    public var bookedUntil: Timestamp { Timestamp(milliseconds: bookedUntilMilliseconds) }
    public var rateSince: Timestamp { Timestamp(milliseconds: rateSinceMilliseconds) }
}

/// One append-only line of the cost ledger: what one resource of one attempt cost over one
/// interval at one rate. Never updated or deleted; a correction is a new row that `reverses` one.
public struct LedgerEntry: Hashable, Sendable {
    public var id: Int64
    public var attempt: AttemptID
    public var team: String
    public var job: JobID
    public var node: NodeID
    public var resource: CostResource
    /// Native units held: millicores, bytes or GPUs.
    public var quantity: Int64
    /// Micro-units per core-, GiB- or GPU-hour.
    public var rateMicros: Int64
    public var amountMicros: Int64
    public var from: Timestamp
    public var to: Timestamp
    /// For a correction: the entry this one cancels.
    public var reverses: Int64?
    /// Why a correction was made, by whom.
    public var note: String?

    public init(id: Int64, attempt: AttemptID, team: String, job: JobID, node: NodeID, resource: CostResource, quantity: Int64,
                rateMicros: Int64, amountMicros: Int64, from: Timestamp, to: Timestamp, reverses: Int64? = nil, note: String? = nil) {
        self.id = id
        self.attempt = attempt
        self.team = team
        self.job = job
        self.node = node
        self.resource = resource
        self.quantity = quantity
        self.rateMicros = rateMicros
        self.amountMicros = amountMicros
        self.from = from
        self.to = to
        self.reverses = reverses
        self.note = note
    }
}
