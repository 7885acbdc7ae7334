variable "root" { type = string }

play "local" {
  hosts = "all"

  command "fail" {
    run  = ["false"]
    when = host.name == "a"
  }
  shell "slow" {
    run  = "sleep 1"
    when = host.name == "b"
  }
  file "after" {
    path    = "${var.root}/after-${host.name}"
    content = "x\n"
  }
}
