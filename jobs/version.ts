/** yunshi's version, written into labels; a test keeps it equal to package.json's. */
export const VERSION = "0.1.0";
