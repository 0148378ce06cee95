// Lint rules: typescript-eslint's type-checked recommended set, with Prettier owning layout.
// https://typescript-eslint.io/getting-started/typed-linting
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'config/**', 'demo/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      // `const { a: _a, ...rest } = x` is how the code makes a copy of x without a: the name beside
      // a rest element is not an unused variable. https://eslint.org/docs/latest/rules/no-unused-vars#ignorerestsiblings
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  { files: ['**/*.mjs', '**/*.cjs', '**/*.js'], ...tseslint.configs.disableTypeChecked },
  prettier,
);
