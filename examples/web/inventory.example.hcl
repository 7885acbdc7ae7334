# Copy to inventory.hcl and put your web servers' addresses here.
defaults {
  user = "deploy"
  become = true
}

host "web1" { address = "192.0.2.11" }
host "web2" { address = "192.0.2.12" }

group "web" {
  hosts = ["web1", "web2"]
}
