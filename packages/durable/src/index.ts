/**
 * @since 1.0.0
 */
export {}
