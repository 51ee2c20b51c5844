import DroverCore
import Foundation

// Amounts on the wire are JSON numbers (Decimal); inside they are integer micro-units.

extension Money {
    /// A wire amount (JSON number) in micro-units, rounded to the nearest one.
    public static func micros(_ amount: Decimal) -> Int64 {
        var scaled = amount * 1_000_000
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    /// Micro-units as a wire amount, exactly.
    public static func decimal(_ micros: Int64) -> Decimal { Decimal(micros) / 1_000_000 }
}
