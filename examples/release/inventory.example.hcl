host "web1" { address = "10.0.0.11" }
host "web2" { address = "10.0.0.12" }

group "web" {
  hosts = ["web1", "web2"]
  user  = "root"
}
