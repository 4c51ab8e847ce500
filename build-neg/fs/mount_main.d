build-neg/fs/mount_main.o: fs/mount_main.c
