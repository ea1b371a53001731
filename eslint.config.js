// @ts-check
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/build/**", "**/node_modules/**", "**/coverage/**", "docs/api/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "prefer-rest-params": "off",
      "no-constant-condition": ["error", { checkLoops: false }],
      "prefer-const": "error",
      eqeqeq: ["error", "always"]
    }
  },
  {
    // CommonJS files (the consumer check's `require` user): Node's CommonJS globals.
    files: ["**/*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", console: "readonly", process: "readonly" }
    },
    rules: { "@typescript-eslint/no-require-imports": "off" }
  },
  {
    files: ["**/test/**/*.ts"],
    rules: {
      "@typescript-eslint/consistent-type-imports": "off"
    }
  }
)
