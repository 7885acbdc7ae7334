variable "root" { type = string }

# The ini module of docs/writing-a-module.md: one key changed, one added to
# an existing section, one new section, and a key already set (no change).
play "local" {
  hosts = "all"

  ini "memory" {
    path    = "${var.root}/php.ini"
    section = "PHP"
    key     = "memory_limit"
    value   = "256M"
  }
  ini "timezone" {
    path    = "${var.root}/php.ini"
    section = "Date"
    key     = "date.timezone"
    value   = "UTC"
  }
  ini "opcache" {
    path    = "${var.root}/opcache.ini"
    section = "opcache"
    key     = "opcache.enable"
    value   = "1"
    mode    = "0640"
  }
  ini "engine" {
    path    = "${var.root}/php.ini"
    section = "PHP"
    key     = "engine"
    value   = "On"
  }
}
