/*
 * hull's tiny test guest: 16-bit real mode, loaded by `hull vm run --raw` at 0x10000 with
 * CS=DS=0x1000, IP=0. It exercises port I/O exits (polled UART output, a `rep outsb`
 * string), the CMOS RTC, CPUID's KVM leaves and guest RAM, then stops through the ACPI sleep
 * control port (S5) or, when built with --defsym REBOOT=1, through the i8042 reset line.
 * --defsym SPIN=1 spins forever; --defsym COUNT=1 counts forever, a line per step (snapshot
 * tests); with --defsym DIRTY=1 too, each step also writes its number into each of the 128 pages
 * at [0x20000, 0xa0000) (live migration's dirtying loop); --defsym KBD=1 waits for
 * Ctrl-Alt-Del on the i8042 first.
 * Assemble: as --32 -o tiny.o tiny.S && ld -m elf_i386 -Ttext=0 --oformat binary -o tiny.bin tiny.o
 */
	.code16
	.text
	.globl _start
_start:
	cli
	mov	$hello, %si
	call	puts

	/* a string write: one exit carries the whole buffer */
	mov	$str_rep, %si
	mov	$(str_rep_end - str_rep), %cx
	mov	$0x3f8, %dx
	cld
	rep outsb

	/* CPUID 0x40000000: the hypervisor signature in EBX, ECX, EDX */
	mov	$0x40000000, %eax
	cpuid
	mov	%ebx, sig
	mov	%ecx, sig + 4
	mov	%edx, sig + 8
	mov	$str_sig, %si
	call	puts
	mov	$sig, %si
	call	puts
	mov	$nl, %si
	call	puts

	/* CMOS RTC: seconds must be BCD 00..59, register D must say "valid RAM and time" */
	mov	$0x0d, %al
	out	%al, $0x70
	in	$0x71, %al
	test	$0x80, %al
	jz	fail
	mov	$0x00, %al
	out	%al, $0x70
	in	$0x71, %al
	cmp	$0x59, %al
	ja	fail
	mov	$str_rtc, %si
	call	puts

	/* RAM: write a pattern over 0x20000..0x2ffff (segment 0x2000) and read it back */
	mov	$0x2000, %ax
	mov	%ax, %es
	xor	%di, %di
	mov	$0x8000, %cx
1:	mov	%di, %ax
	xor	$0xa5c3, %ax
	mov	%ax, %es:(%di)
	add	$2, %di
	loop	1b
	xor	%di, %di
	mov	$0x8000, %cx
2:	mov	%di, %ax
	xor	$0xa5c3, %ax
	cmp	%es:(%di), %ax
	jne	fail
	add	$2, %di
	loop	2b
	mov	$str_mem, %si
	call	puts

.ifdef SPIN
	/* for the control-socket tests: stay up until hull is told to stop */
	mov	$str_spin, %si
	call	puts
5:	pause
	jmp	5b
.endif
.ifdef COUNT
	/* for the snapshot tests: count in RAM forever, one line per step ("0001".."ffff") */
	mov	$str_count, %si
	call	puts
7:	incw	counter
	mov	counter, %ax
	call	puthex4
	mov	$nl, %si
	call	puts
.ifdef DIRTY
	push	%es
	mov	counter, %ax
	mov	$0x2000, %bx
9:	mov	%bx, %es
	mov	%ax, %es:0	/* the step's number in each page */
	add	$0x100, %bx	/* the next 4 KiB page */
	cmp	$0xa000, %bx
	jb	9b
	pop	%es
.endif
	mov	$0x2000, %cx
8:	pause
	loop	8b
	jmp	7b
.endif
.ifdef KBD
	/* for the graceful-stop tests: poll the i8042 until hull presses Ctrl-Alt-Del (set 1,
	 * translated: ... E0 53 is Delete), then power off */
	mov	$str_kbd, %si
	call	puts
6:	pause
	in	$0x64, %al
	test	$0x01, %al
	jz	6b
	in	$0x60, %al
	cmp	$0x53, %al
	jne	6b
	mov	$str_cad, %si
	call	puts
.endif
.ifdef REBOOT
	mov	$str_reboot, %si
	call	puts
	mov	$0xfe, %al
	out	%al, $0x64
.else
	mov	$str_bye, %si
	call	puts
	mov	$0x600, %dx	/* ACPI sleep control: SLP_TYP=5 (S5), SLP_EN */
	mov	$0x34, %al
	out	%al, %dx
.endif
	jmp	.

fail:
	mov	$str_fail, %si
	call	puts
	mov	$0x64, %dx
	mov	$0xfe, %al
	out	%al, %dx
	jmp	.

/* print the NUL-terminated string at DS:SI, polling LSR.THRE before each byte */
puts:
	lodsb
	test	%al, %al
	jz	3f
	mov	%al, %bl
4:	mov	$0x3fd, %dx
	in	%dx, %al
	test	$0x20, %al
	jz	4b
	mov	$0x3f8, %dx
	mov	%bl, %al
	out	%al, %dx
	jmp	puts
3:	ret

/* print AX as 4 hex digits */
puthex4:
	mov	$4, %cx
9:	rol	$4, %ax
	push	%ax
	push	%cx
	and	$0xf, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	10f
	add	$7, %al
10:	mov	%al, hexbuf
	mov	$hexbuf, %si
	call	puts
	pop	%cx
	pop	%ax
	loop	9b
	ret

hello:		.asciz "hull tiny guest: hello\n"
str_rep:	.ascii "rep outsb ok\n"
str_rep_end:
str_sig:	.asciz "cpuid 0x40000000: "
str_rtc:	.asciz "rtc ok\n"
str_mem:	.asciz "memory ok\n"
str_bye:	.asciz "powering off\n"
str_reboot:	.asciz "rebooting\n"
str_spin:	.asciz "spinning\n"
str_kbd:	.asciz "waiting for ctrl-alt-del\n"
str_cad:	.asciz "ctrl-alt-del\n"
str_count:	.asciz "counting\n"
str_fail:	.asciz "tiny guest: FAILED\n"
nl:		.asciz "\n"
sig:		.fill 13, 1, 0
hexbuf:		.byte 0, 0
counter:	.word 0
