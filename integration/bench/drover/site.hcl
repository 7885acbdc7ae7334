# The speed benchmark's workload: 30 tasks and a handler, the same work as
# ../ansible/site.yml. Everything lives under /srv/bench plus a group, a
# user, a cron file and a sysctl.d file.

play "bench" {
  hosts = "fleet"

  group "bench" {
    name   = "benchgrp"
    system = true
  }
  user "bench" {
    name        = "benchsvc"
    group       = group.bench.name
    system      = true
    shell       = "/usr/sbin/nologin"
    home        = "/srv/bench"
    create_home = false
  }
  package "coreutils" {
    names = ["coreutils"] # already installed: a check, no change
  }
  directory "root" {
    path = "/srv/bench"
    mode = "0755"
  }
  directory "conf" {
    path = "${directory.root.path}/conf"
    mode = "0755"
  }
  directory "www" {
    path = "${directory.root.path}/www"
    mode = "0755"
  }
  directory "logs" {
    path  = "${directory.root.path}/logs"
    mode  = "0750"
    owner = user.bench.name
    group = group.bench.name
  }
  # 11 copies of local files (tasks 8-18).
  copy "conf" {
    for_each = toset(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"])
    source   = "files/conf-${each.key}.conf"
    path     = "${directory.conf.path}/conf-${each.key}.conf"
    mode     = "0644"
    notify   = [handler.reload]
  }
  # Two line edits of one file (created by the first).
  line "debug" {
    path   = "${directory.conf.path}/app.ini"
    regexp = "^debug ="
    line   = "debug = false"
    create = true
  }
  line "workers" {
    path       = "${directory.conf.path}/app.ini"
    regexp     = "^workers ="
    line       = "workers = 8"
    create     = true
    depends_on = [line.debug]
  }
  template "page" {
    count  = 4
    source = "page.tftpl"
    path   = "${directory.www.path}/page-${count.index}.html"
    vars   = { n = count.index, host = host.name }
    mode   = "0644"
  }
  file "secret" {
    path    = "${directory.root.path}/secret.env"
    content = "TOKEN=not-really-secret\n"
    mode    = "0600"
    owner   = user.bench.name
    group   = group.bench.name
  }
  file "version" {
    path    = "${directory.root.path}/VERSION"
    content = "1.0.0\n"
    mode    = "0644"
    notify  = [handler.reload]
  }
  symlink "current" {
    path   = "${directory.root.path}/current"
    target = directory.www.path
  }
  cron "rotate" {
    name      = "bench log rotation"
    cron_file = "bench"
    user      = "root"
    minute    = "30"
    hour      = "2"
    job       = "find /srv/bench/logs -name '*.log' -mtime +7 -delete"
  }
  line "sysctl" {
    path   = "/etc/sysctl.d/60-bench.conf"
    regexp = "^vm.swappiness"
    line   = "vm.swappiness = 10"
    create = true
  }
  command "init" {
    run        = ["sh", "-c", "echo initialized > /srv/bench/.initialized"]
    creates    = "/srv/bench/.initialized"
    depends_on = [directory.root]
  }

  handler "reload" {
    command {
      run = ["sh", "-c", "echo reloaded >> /srv/bench/logs/reload.log"]
    }
  }
}
