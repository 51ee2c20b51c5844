/// The one version of Drover: what `drover --version` prints and `GET /version` answers.
public enum DroverVersion {
    /// The release, bumped by hand with the README's status.
    public static let release = "0.15.0"
    /// The HTTP API's version: the `/v1` prefix of its routes.
    public static let api = "v1"

    /// What `GET /version` answers.
    public static var view: VersionView { VersionView(version: release, apiVersion: api) }
}

/// `GET /version`: the coordinator's release and API version, needing no token.
public struct VersionView: Codable, Hashable, Sendable {
    public var version: String
    public var apiVersion: String
    public init(version: String, apiVersion: String) { (self.version, self.apiVersion) = (version, apiVersion) }
}
