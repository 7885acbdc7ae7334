printf '; PHP settings\n[PHP]\nengine = On\nmemory_limit = 128M\n\n[Date]\n;date.timezone =\n' > "$ROOT/php.ini"
