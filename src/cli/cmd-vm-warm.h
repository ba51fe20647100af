#pragma once
/* `hull vm warm IMAGE`: build the image's warm snapshot (cmd-vm-warm.c; hull only). */
int vm_warm_main(int argc, char **argv);
