build-clang/fs/mount_main.o: fs/mount_main.c
