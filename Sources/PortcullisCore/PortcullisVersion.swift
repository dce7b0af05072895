/// The Portcullis release, printed by `portcullis version` and in the startup log line.
public enum PortcullisVersion {
    public static let string = "0.1.0"
}
