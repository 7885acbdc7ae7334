# One host: this machine, reached without SSH.
host "localhost" {
  connection = "local"
  vars = {
    owner_name = "local operator"
  }
}
