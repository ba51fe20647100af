#pragma once
/* `hull vm agent`: drive a guest's agent directly (cmd-vm-agent.c; hull only, not hull-vmm). */
int vm_agent_main(int argc, char **argv);
