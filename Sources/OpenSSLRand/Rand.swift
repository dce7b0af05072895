public enum Rand {}
