import DroverTrust
import Foundation

/// What `drover coordinator` prints at start beyond the address, for machines to join a
/// coordinator serving with its generated CA: the pin and a join command. No secret is printed;
/// the join command reads the token from where it is.
public enum JoinInstructions {
    /// Nothing unless a generated CA signs the server certificate.
    ///
    /// - Parameter hostname: this machine's name, the address printed for one listening on 0.0.0.0 or ::.
    public static func lines(for listening: Listening, configuration: CoordinatorConfiguration, hostname: String) -> [String] {
        guard let pin = listening.caPin else { return [] }
        let host = IPAddress(listening.host)?.isUnspecified == true ? hostname : listening.host
        let url = "\(listening.scheme)://\(host.contains(":") ? "[\(host)]" : host):\(listening.port)"
        let tokenFile = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("join.token").standardizedFileURL.path
        let token = configuration.joinToken.isEmpty ? "\"$(cat \(tokenFile))\"" : "\"$DROVER_JOIN_TOKEN\""
        let caFile = GeneratedTLS(dataDirectory: URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path).caCertificatePath
        return [
            "CA pin \(pin) (agents and the CLI on other machines: --ca-pin \(pin), or --ca-cert with a copy of \(caFile))",
            "join an agent: drover agent --coordinator \(url) --ca-pin \(pin) --join-token \(token)",
        ]
    }
}
