extension Duration {
    /// The duration in whole milliseconds (truncated), the unit the store and the wire use.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
