/** Exit codes of the `anchiale` commands (spec/mqtt-api.md; sysexits.h for 75 and 78). */
export const EXIT_OK = 0;
/** Any other failure. */
export const EXIT_FAILURE = 1;
/** Restart requested (EX_TEMPFAIL): systemd restarts the unit. */
export const EXIT_RESTART = 75;
/** Invalid configuration (EX_CONFIG): restarting will not help. */
export const EXIT_CONFIG = 78;
